"""Issue 13 items 1-5: the command line tells the truth about formulas as typed.

Each case is run for real (``python -m partiald ...`` in a subprocess, as tests/test_cli.py
does), plus the ``$ partiald ...`` examples of README.md, whose printed output must match.
"""
from __future__ import annotations

import json
import pathlib
import re
import shlex

import pytest

from partiald import expr
from test_cli import assert_one_paragraph_error, ok, run

ROOT = pathlib.Path(__file__).resolve().parents[1]


# -- item 1: --wrt names only variables of the formula; names run together are pointed out -------

def test_wrt_a_name_the_formula_does_not_use_is_refused_with_the_pointer():
    args = ("diff", "x^2 + 3xy", "--wrt", "x,y")
    rc, out, err = run(*args)
    assert_one_paragraph_error(args, rc, out, err)
    assert out == ""                                  # no number before the pointer
    assert "--wrt names y, which the formula does not use" in err
    assert "`xy` is read as one variable; write `x*y` (or `3*x*y`)" in err


def test_wrt_unknown_without_a_split():
    rc, out, err = run("diff", "x^2", "--wrt", "y")
    assert rc == 2 and out == "" and "--wrt names y" in err and "its variables: x" in err


def test_names_run_together_beside_their_parts_are_refused():
    rc, out, err = run("diff", "x*y + xy")
    assert rc == 2 and out == "" and "`xy` is read as one variable; write `x*y`" in err
    # named in --wrt, it is meant as one variable
    out = ok("diff", "x*y + xy", "--wrt", "xy")
    assert "∂f/∂xy = 1" in out


def test_a_short_name_holding_a_variable_gets_a_note_first():
    rc, out, err = run("diff", "x^2 + 3xy")
    assert rc == 0
    assert err.startswith("partiald: note: `xy` is read as one variable; write `x*y`")
    assert "f(x, xy) = x^2 + 3*xy" in out           # the formula as it was read


def test_at_and_wrt_names_go_through_the_same_check():
    rc, out, err = run("grad", "x^2 + 3xy", "--at", "x=1,y=2")
    assert rc == 2 and "--at names y" in err and "`xy` is read as one variable" in err


# -- item 2: explanations follow the formula as typed ----------------------------------------------

def test_steps_explain_the_typed_tree_with_the_chain_rule():
    out = ok("diff", "(x*y)^3", "--wrt", "x", "--steps")
    assert "d/dx [(x*y)^3]" in out
    assert "d/dx[(x*y)^3] = 3*x^2*y^3   (power rule + chain rule; y held constant)" in out
    assert "d/dx[x*y] = y" in out
    assert "x^3*y^3]" not in out
    out = ok("diff", "(y-(w*x+b))^2", "--wrt", "w", "--steps")
    assert "f(b, w, x, y) = (y - (w*x + b))^2" in out
    assert "d/dw[(y - (w*x + b))^2]" in out and "d/dw[w*x + b] = x" in out
    assert out.rstrip().endswith("result: -2*x*(-b - w*x + y)")


def test_explain_api_follows_the_text_and_ends_with_the_answer():
    f = expr("(x*y)^3")
    e = f.explain("x")
    assert e.steps[0]["expr"] == "(x*y)^3" and "chain rule" in e.steps[0]["rule"]
    assert str(e).endswith(str(f.diff("x")))
    assert e.text("unicode").splitlines()[0] == "d/dx [(x⋅y)³]"
    # a formula without text (a derivative) is explained on its canonical form
    d = f.diff("x")
    assert d.explain("y").steps[0]["expr"] == str(d)


def test_steps_for_order_2_and_mixed():
    out = ok("diff", "x^3*y", "--wrt", "x", "--order", "2", "--steps")
    assert out.count("result:") == 2 and "d/dx [3*x^2*y]" in out and out.rstrip().endswith("result: 6*x*y")
    out = ok("diff", "x^2*y", "--wrt", "x,y", "--mixed", "--steps")
    assert "d/dx [x^2*y]" in out and "d/dy [2*x*y]" in out and out.rstrip().endswith("result: 2*x")
    res = json.loads(ok("diff", "x^2*y", "--wrt", "x,y", "--mixed", "--steps", "--json"))
    assert [s["variable"] for s in res["steps"]["xy"]] == ["x", "y"]
    assert res["steps"]["xy"][-1]["result"] == res["derivatives"]["xy"] == "2*x"


def test_pretty_applies_to_the_steps():
    out = ok("diff", "x^2 + 3*x*y", "--wrt", "x", "--steps", "--pretty")
    assert "d/dx[x² + 3x⋅y] = 2x + 3y" in out and "result: 2x + 3y" in out


# -- item 3: numbers as people write them; the Hessian as a matrix with a verdict -------------------

def test_values_print_at_15_significant_digits():
    out = ok("diff", "x + 3*x*y", "--at", "x=0.1,y=0.2")
    assert "= 0.3\n" in out and "0.30000000000000004" not in out
    assert "at x=0.1, y=0.2" in out
    res = json.loads(ok("diff", "x + 3*x*y", "--at", "x=0.1,y=0.2", "--json"))
    assert res["values"]["y"] == 3 * 0.1 == 0.30000000000000004        # --json keeps full precision


@pytest.mark.parametrize("formula, point, verdict", [
    ("x^3 - 3*x + y^2", "x=1,y=0",
     "positive definite (eigenvalues 2, 6) and ∇f = 0: a critical point, a local minimum"),
    ("-x^2 - y^2", "x=0,y=0", "negative definite (eigenvalues -2, -2) and ∇f = 0: a critical point, a local maximum"),
    ("x^2 - y^2", "x=0,y=0", "indefinite (eigenvalues -2, 2) and ∇f = 0: a critical point, a saddle point"),
    ("x^2 - y^2", "x=1,y=0", "indefinite (eigenvalues -2, 2); ∇f is not 0 there, so the point is not a critical point"),
    ("x^4 + y^2", "x=0,y=0", "positive semidefinite (eigenvalues 0, 2) and ∇f = 0: a critical point, but the test "
                             "is inconclusive"),
])
def test_hessian_matrix_and_verdict(formula, point, verdict):
    out = ok("hessian", formula, "--at", point)
    assert "H is " + verdict in out
    ls = out.splitlines()
    i = next(k for k, ln in enumerate(ls) if ln.startswith("H at "))
    header, row_x, row_y = ls[i + 1], ls[i + 2], ls[i + 3]
    assert header.split() == ["x", "y"] and row_x.split()[0] == "x" and row_y.split()[0] == "y"
    assert header.index("y") == max(row_x.rindex(row_x.split()[-1][-1]), row_y.rindex(row_y.split()[-1][-1]))
    res = json.loads(ok("hessian", formula, "--at", point, "--json"))
    assert res["definiteness"] in verdict and res["critical_point"] == ("not a critical" not in verdict)


def test_symbolic_hessian_is_an_aligned_matrix():
    assert ok("hessian", "x^3 - 3*x + y^2") == ("f(x, y) = x^3 - 3*x + y^2\n"
                                                "H =\n"
                                                "     x    y\n"
                                                "  x  6*x  0\n"
                                                "  y  0    2\n")


# -- item 4: grad and hessian take --wrt and label every entry --------------------------------------

def test_grad_wrt_parameters_only():
    out = ok("grad", "(w*x1 + b - t)^2", "--wrt", "w,b", "--at", "w=0.5,b=0,x1=2,t=3")
    assert "∂f/∂w = 2*x1*(b - t + w*x1)  = -8" in out and "∂f/∂b = 2*b - 2*t + 2*w*x1   = -4" in out
    assert "∂f/∂x1" not in out and "∂f/∂t" not in out
    assert "∇f in (w, b) = (-8, -4)" in out
    res = json.loads(ok("grad", "(w*x1 + b - t)^2", "--wrt", "w,b", "--json"))
    assert res["wrt"] == ["w", "b"] and len(res["gradient"]) == 2


def test_hessian_wrt_parameters_only():
    out = ok("hessian", "(w*x1 + b - t)^2", "--wrt", "w,b", "--at", "w=0,b=1,x1=2,t=1")
    assert "∂²f/∂w²  = 2*x1^2" in out and "∂²f/∂w∂b = 2*x1" in out and "∂²f/∂b²  = 2" in out
    assert "x1" not in out.split("H at")[1].splitlines()[1]           # columns: w, b only
    assert "held fixed" in out
    res = json.loads(ok("hessian", "(w*x1 + b - t)^2", "--wrt", "w,b", "--json"))
    assert res["wrt"] == ["w", "b"] and res["hessian"] == [["2*x1^2", "2*x1"], ["2*x1", "2"]]


# -- item 5: textbook notation ------------------------------------------------------------------------

def test_textbook_formula():
    out = ok("diff", "f(x, y) = x² + 3x·y", "--at", "x=1,y=2")
    assert "∂f/∂x = 2*x + 3*y  = 8" in out and "∂f/∂y = 3*x        = 3" in out
    out = ok("diff", "x × y − z", "--wrt", "z")
    assert "∂f/∂z = -1" in out
    out = ok("diff", "θ² + λ*x", "--at", "θ=1,λ=2,x=3")
    assert "∂f/∂theta  = 2*theta  = 2" in out
    out = ok("diff", "θ² + λ*x", "--wrt", "θ", "--pretty")
    assert "f(λ, θ, x) = θ² + λ⋅x" in out and "∂f/∂θ = 2θ" in out


def test_left_side_variables_are_the_parameters():
    out = ok("grad", "f(w) = (w*x - t)^2")
    assert "∂f/∂w" in out and "∂f/∂x" not in out
    out = ok("diff", "f(x, y) = x^2", "--wrt", "y")           # y is declared: its partial is 0
    assert "∂f/∂y = 0" in out


def test_did_you_mean_a_function():
    rc, out, err = run("diff", "sinn(x)")
    assert_one_paragraph_error(("sinn(x)",), rc, out, err)
    assert "did you mean sin?" in err


def test_version():
    import partiald
    out = ok("--version")
    assert out == f"partiald {partiald.__version__}\n"


# -- the README's command-line examples print what it shows ----------------------------------------

def _readme_examples():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```\n(\$ partiald .*?)```", text, re.S):
        for part in re.split(r"(?m)^(?=\$ partiald )", block):
            if not part.strip():
                continue
            cmd, _, shown = part.partition("\n")
            args = shlex.split(cmd[2:])[1:]
            if args[:1] in (["diff"], ["grad"], ["hessian"], ["--version"]):
                out.append((args, shown))
    return out


EXAMPLES = _readme_examples()


def test_readme_has_command_line_examples():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("args, shown", EXAMPLES, ids=[" ".join(a)[:60] for a, _ in EXAMPLES])
def test_readme_command_line_example(args, shown):
    rc, out, err = run(*args)
    assert (out + err).replace("[exit status 2]\n", "") == shown.replace("[exit status 2]\n", ""), (out, err)
    assert (rc == 2) == ("[exit status 2]" in shown)
