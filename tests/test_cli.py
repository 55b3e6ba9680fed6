"""The command line (API.md section 6), run for real: ``python -m partiald ...`` in a
subprocess with this interpreter, and the ``partiald`` console script when it is on PATH.

Exit status: 0 success, 1 a --check that is not equivalent, 2 bad input (a
one-paragraph message on stderr, never a traceback).
"""
from __future__ import annotations

import functools
import json
import os
import re
import io
import math
import shutil
import subprocess
import sys
import sysconfig
from concurrent.futures import ThreadPoolExecutor

import pytest

TIMEOUT = 60


@functools.lru_cache(maxsize=None)
def run(*args, exe=None):
    cmd = [exe] + list(args) if exe else [sys.executable, "-m", "partiald", *args]
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env,
                       encoding="utf-8")
    return p.returncode, p.stdout, p.stderr


def ok(*args):
    rc, out, err = run(*args)
    assert rc == 0, (args, rc, out, err)
    assert "Traceback" not in err
    return out


def lines(out):
    return [ln.rstrip() for ln in out.splitlines() if ln.strip()]


def assert_one_paragraph_error(args, rc, out, err):
    assert rc == 2, (args, rc, out, err)
    assert "Traceback" not in err and "Traceback" not in out, err
    text = err.strip()
    assert text, f"{args}: no message on stderr"
    assert "\n\n" not in text, f"{args}: more than one paragraph:\n{err}"
    assert text.startswith("partiald: error:"), err
    assert "internal error" not in text


# ================================================================================================
# The seed outputs
# ================================================================================================

def test_seed_diff_at_a_point():
    out = ok("diff", "x^2 + 3*x*y", "--at", "x=1,y=2")
    ls = lines(out)
    row_x = [ln for ln in ls if "2*x + 3*y" in ln]
    row_y = [ln for ln in ls if re.search(r"= 3\*x\b", ln)]
    assert len(row_x) == 1 and re.search(r"=\s*8(\.0)?$", row_x[0]), out
    assert len(row_y) == 1 and re.search(r"=\s*3(\.0)?$", row_y[0]), out
    assert "x^2 + 3*x*y" in out
    assert ls.index(row_x[0]) < ls.index(row_y[0])          # in variables order


def test_seed_diff_exact_layout():
    assert ok("diff", "x^2 + 3*x*y", "--at", "x=1,y=2") == (
        "f(x, y) = x^2 + 3*x*y\n"
        "∂f/∂x = 2*x + 3*y  = 8\n"
        "∂f/∂y = 3*x        = 3\n"
        "at x=1, y=2\n")


def test_diff_without_a_point():
    out = ok("diff", "x^2 + x*y + y^2", "--wrt", "x")
    assert "2*x + y" in out and "∂f/∂y" not in out


def test_grad_and_hessian_text():
    out = ok("grad", "x^2*y + z", "--at", "x=1,y=2,z=3")
    assert "∂f/∂x = 2*x*y  = 4" in out and "∇f = (4, 1, 1)" in out
    assert "∇f = (2*x*y, x^2, 1)" in ok("grad", "x^2*y + z")
    out = ok("hessian", "x^2 + 3*x*y", "--at", "x=1,y=2")
    ls = lines(out)
    assert any("∂²f/∂x²" in ln and re.search(r"= 2\s+= 2$", ln) for ln in ls), out
    assert any("∂²f/∂x∂y" in ln and re.search(r"= 3\s+= 3$", ln) for ln in ls), out
    assert any("∂²f/∂y²" in ln and re.search(r"= 0\s+= 0$", ln) for ln in ls), out


def test_order_and_mixed():
    out = ok("diff", "x^3*y", "--wrt", "x", "--order", "2")
    assert "6*x*y" in out and "∂²f/∂x²" in out
    out = ok("diff", "x^2*y", "--wrt", "x,y", "--mixed")
    assert "∂²f/∂x∂y = 2*x" in out
    out = ok("diff", "sin(x)", "--order", "100")
    assert "= sin(x)" in out


def test_pretty():
    out = ok("diff", "x^2 + 3*x*y", "--pretty")
    assert "x² + 3x⋅y" in out and "2x + 3y" in out


def test_at_accepts_constant_formulas():
    out = ok("diff", "sin(x)", "--at", "x=pi/2", "--json")
    res = json.loads(out)
    assert res["at"]["x"] == math.pi / 2
    assert abs(res["values"]["x"]) < 1e-15


def test_formula_starting_with_minus():
    out = ok("diff", "-x^2 + y", "--wrt", "x", "--json")
    assert json.loads(out)["derivatives"] == {"x": "-2*x"}


# ================================================================================================
# --json
# ================================================================================================

def _one_json_object(out):
    assert out.strip().count("\n") == 0, f"not one line: {out!r}"
    res = json.loads(out)
    assert isinstance(res, dict)
    return res


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def test_diff_json_shape():
    res = _one_json_object(ok("diff", "x^2 + 3*x*y", "--at", "x=1,y=2", "--json"))
    assert res["derivatives"] == {"x": "2*x + 3*y", "y": "3*x"}
    assert all(isinstance(v, str) for v in res["derivatives"].values())
    assert res["values"] == {"x": 8, "y": 3}
    assert all(_is_number(v) for v in res["values"].values())
    assert res["formula"] == "x^2 + 3*x*y"
    assert res["variables"] == ["x", "y"]
    assert res["at"] == {"x": 1, "y": 2} and all(_is_number(v) for v in res["at"].values())


def test_grad_json_shape():
    res = _one_json_object(ok("grad", "x^2*y + z", "--at", "x=1,y=2,z=3", "--json"))
    assert res["gradient"] == ["2*x*y", "x^2", "1"]
    assert res["values"] == [4, 1, 1] and all(_is_number(v) for v in res["values"])
    assert res["variables"] == ["x", "y", "z"]
    res = _one_json_object(ok("grad", "x^2*y + z", "--json"))
    assert "values" not in res and res["gradient"] == ["2*x*y", "x^2", "1"]


def test_hessian_json_shape():
    res = _one_json_object(ok("hessian", "x^2 + 3*x*y", "--at", "x=1,y=2", "--json"))
    assert res["hessian"] == [["2", "3"], ["3", "0"]]
    assert res["values"] == [[2, 3], [3, 0]]
    assert all(_is_number(v) for row in res["values"] for v in row)


def test_json_with_steps_latex_and_check():
    res = _one_json_object(ok("diff", "x^2 + 3*x*y", "--wrt", "x", "--steps", "--latex", "--json",
                              "--check", "2*x + 3*y"))
    steps = res["steps"]["x"]
    assert isinstance(steps, list) and steps
    assert set(steps[0]) == {"index", "depth", "expr", "derivative", "rule", "held_constant", "note"}
    assert steps[0]["derivative"] == "2*x + 3*y"
    assert res["latex"]["x"] == "2 x + 3 y"
    assert res["check"]["equivalent"] is True


def test_json_is_strict_json_when_values_are_not_finite():
    rc, out, err = run("diff", "log(x)", "--at", "x=0", "--json")
    assert rc == 0

    def reject(token):
        raise ValueError(f"not JSON: {token}")
    json.loads(out, parse_constant=reject)


# ================================================================================================
# --steps, --latex, --check, --help
# ================================================================================================

def test_steps():
    out = ok("diff", "x^2 + 3*x*y", "--wrt", "x", "--steps")
    assert "power rule" in out
    line = next(ln for ln in out.splitlines() if "constant multiple" in ln)
    assert "y held constant" in line
    assert out.rstrip().splitlines()[-1] == "result: 2*x + 3*y"


def test_steps_for_every_variable():
    out = ok("diff", "x^2*y + z", "--steps")
    assert out.count("result:") == 3
    assert "result: 2*x*y" in out and "result: x^2" in out and "result: 1" in out


def test_latex():
    out = ok("diff", "x^2 + 3*x*y", "--latex")
    assert r"\frac{\partial f}{\partial x}" in out and r"\frac{\partial f}{\partial y}" in out
    assert "2 x + 3 y" in out and "x^{2} + 3 x y" in out
    out = ok("diff", "x^3*y", "--wrt", "x", "--order", "2", "--latex")
    assert r"\frac{\partial^{2} f}{\partial x \partial x}" in out or r"\partial x^{2}" in out
    out = ok("hessian", "x*y", "--latex")
    assert r"\begin{pmatrix}" in out


def test_check_equivalent():
    rc, out, err = run("diff", "x^2 + 3*x*y", "--wrt", "x", "--check", "x*(2 + 3*y/x)")
    assert rc == 0, (out, err)
    assert "equivalent" in out and "NOT" not in out


def test_check_not_equivalent():
    rc, out, err = run("diff", "x^2 + 3*x*y", "--wrt", "x", "--check", "2*x + 3")
    assert rc == 1, (out, err)
    assert "NOT equivalent" in out
    assert "Traceback" not in err
    rc, out, err = run("diff", "x^2 + 3*x*y", "--wrt", "x", "--check", "2*x + 3", "--json")
    assert rc == 1
    assert _one_json_object(out)["check"]["equivalent"] is False


def test_check_undecided_is_not_success():
    rc, out, err = run("diff", "sqrt(-1 - x^2)", "--wrt", "x", "--check", "x")
    assert rc == 1
    assert "undecided" in out


def test_help_has_examples():
    for args in (("--help",), ("diff", "--help"), ("grad", "--help"), ("hessian", "--help")):
        out = ok(*args)
        assert "usage:" in out
        assert "examples:" in out and 'partiald diff "x^2 + 3*x*y"' in out, args
    out = ok("--help")
    for cmd in ("diff", "grad", "hessian"):
        assert cmd in out
    out = ok("diff", "--help")
    for opt in ("--wrt", "--at", "--order", "--mixed", "--steps", "--latex", "--json", "--pretty", "--check"):
        assert opt in out


# ================================================================================================
# Bad input: exit 2, one paragraph on stderr, no traceback
# ================================================================================================

BAD_INPUT = [
    ("diff", "x^2 +"),
    ("diff", "sin x"),
    ("diff", "x y"),
    ("diff", ""),
    ("diff", "x^2", "--at", "z=1"),
    ("diff", "x^2 + 3*x*y", "--at", "x=1"),
    ("diff", "x^2", "--at", "x"),
    ("diff", "x^2", "--at", "x=abc"),
    ("diff", "x^2", "--at", "x=y"),
    ("diff", "x^2", "--order", "abc"),
    ("diff", "x^2", "--order", "-1"),
    ("diff", "x^2", "--order", "2000"),
    ("diff", "x^2", "--order", "1.5"),
    ("diff",),
    (),
    ("frobnicate", "x"),
    ("diff", "x", "--foo"),
    ("diff", "__import__('os').system('echo hi')"),
    ("diff", "x.__class__"),
    ("diff", "x^2 + y", "--check", "2*x"),
    ("diff", "x^2", "--check", "2*x +"),
    ("diff", "3"),
    ("diff", "x²", "--wrt", "y"),
    ("diff", "x^2 + 3xy", "--wrt", "x,y"),
    ("diff", "x*y + xy"),
    ("grad", "x^2", "--wrt", "z"),
    ("hessian", "x^2*y", "--wrt", "x,t"),
    ("diff", "sinn(x)"),
    ("grad", "x^2 +", "--json"),
    ("hessian", "(x", "--at", "x=1"),
    ("diff", "x" * 1000 + "(", "--json"),
]


@pytest.fixture(scope="module")
def bad_input_runs():
    """Run the bad-input commands concurrently (each is a fresh interpreter)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda a: run(*a), BAD_INPUT))


@pytest.mark.parametrize("args", BAD_INPUT, ids=lambda a: " ".join(a)[:40] or "<no args>")
def test_bad_input_exits_2_with_one_paragraph(args, bad_input_runs):
    rc, out, err = run(*args)
    assert_one_paragraph_error(args, rc, out, err)


def test_parse_error_points_at_the_problem():
    rc, out, err = run("diff", "x^2 +")
    assert rc == 2
    assert "^" in err and "x^2 +" in err
    rc, out, err = run("diff", "sin x")
    assert "sin(x)" in err                                  # the hint


def test_unknown_at_name_is_named():
    rc, out, err = run("diff", "x^2", "--at", "z=1")
    assert rc == 2 and "z" in err and "x" in err


def test_bad_order_is_named():
    rc, out, err = run("diff", "x^2", "--order", "abc")
    assert rc == 2 and "--order" in err


def test_hostile_formula_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    rc, out, err = run("diff", f"__import__('os').system('touch {marker}')")
    assert rc == 2 and not marker.exists()


def test_at_value_too_large_for_a_float_is_bad_input():
    rc, out, err = run("diff", "x^2", "--at", "x=1e400")
    assert_one_paragraph_error(("--at x=1e400",), rc, out, err)


def test_rejected_options_print_nothing_on_stdout():
    rc, out, err = run("diff", "x^2*y", "--wrt", "x,z", "--steps")
    assert rc == 2
    assert out == ""


def test_order_zero_label():
    out = ok("diff", "x^2", "--order", "0", "--at", "x=3")
    assert "∂⁰f/ " not in out
    assert "x^2" in out and "9" in out


def test_successful_runs_write_nothing_to_stderr():
    for args in (("diff", "x^2 + 3*x*y", "--at", "x=1,y=2"), ("grad", "log(x)", "--at", "x=0"),
                 ("hessian", "sqrt(x)*y", "--at", "x=-1,y=2"), ("diff", "x^2 + 3*x*y", "--steps")):
        rc, out, err = run(*args)
        assert rc == 0 and err == "", (args, err)


def test_overflow_writes_no_warning_to_stderr():
    rc, out, err = run("diff", "9^9^9^9*x", "--at", "x=1")
    assert rc == 0
    assert err == ""


# ================================================================================================
# The console script
# ================================================================================================

def test_main_in_process():
    """The console script's target, partiald.cli:main, returns the exit status."""
    from partiald.cli import main
    out, err = io.StringIO(), io.StringIO()
    assert main(["diff", "x^2 + 3*x*y", "--at", "x=1,y=2"], out, err) == 0
    assert out.getvalue() == run("diff", "x^2 + 3*x*y", "--at", "x=1,y=2")[1] and err.getvalue() == ""
    out, err = io.StringIO(), io.StringIO()
    assert main(["diff", "x^2 +"], out, err) == 2
    assert err.getvalue().startswith("partiald: error:") and out.getvalue() == ""
    out, err = io.StringIO(), io.StringIO()
    assert main(["diff", "x^2", "--check", "2*x + 1"], out, err) == 1


def _console_script():
    exe = shutil.which("partiald")
    if exe is None:
        candidate = os.path.join(sysconfig.get_path("scripts"), "partiald")
        exe = candidate if os.path.exists(candidate) else None
    return exe


def test_console_script():
    exe = _console_script()
    if exe is None:
        pytest.skip("the 'partiald' console script is not installed (pip install -e . creates it)")
    rc, out, err = run("diff", "x^2 + 3*x*y", "--at", "x=1,y=2", exe=exe)
    assert rc == 0 and out == run("diff", "x^2 + 3*x*y", "--at", "x=1,y=2")[1]
    rc, out, err = run("diff", "x^2 +", exe=exe)
    assert_one_paragraph_error(("console script",), rc, out, err)
    rc, out, err = run("diff", "x^2", "--wrt", "x", "--check", "2*x + 1", exe=exe)
    assert rc == 1
