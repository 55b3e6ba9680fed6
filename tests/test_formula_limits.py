"""Bounded cost of formula work (issue 14, items 1, 2 and the formula parts of 9): every
``diff``/``grad``/``hessian`` finishes or refuses in seconds.

* Printing is measured on the DAG before any text is made (printing.MAX_PRINTED_CHARS):
  a derivative whose text would explode is refused with exit status 2 and a message that
  suggests ``--at``, and with ``--at`` the values are printed without the text.
* Differentiation and canonicalization run under a CPU budget (limits.MAX_SECONDS).
* Sort keys of deep nodes compare in linear time without recursion (nested ``sin`` at 400
  levels, ``x^x^...^x`` at 499 levels).
* Work is linear in the number of variables (a sum of 100,000 of them).
* ``x^(10^400)`` evaluates (no OverflowError).

CLI cases run in a subprocess with a memory cap and a generous timeout, so a regression
fails instead of hanging or swapping.
"""
from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from partiald import ExpressionTooLarge, expr
from partiald.symbolic import canonical as C
from partiald.symbolic import limits, printing
from partiald.symbolic import expr as E
from partiald.symbolic.expr import FormulaWarning

#: address-space cap for the CLI subprocesses (the old code needed 2-5 GB for these cases)
MEMORY_CAP = 2 << 30


def _cap_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def cli(*args, env=None, timeout=30):
    """(exit status, stdout, stderr, seconds) of ``python -m partiald args``."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "partiald", *args], capture_output=True, text=True, timeout=timeout,
                       preexec_fn=_cap_memory, env=full_env)
    return r.returncode, r.stdout, r.stderr, time.perf_counter() - t


def nested(fn, depth, leaf="x"):
    s = leaf
    for _ in range(depth):
        s = f"{fn}({s})"
    return s


# -- item 1: printing is measured before it is done -------------------------------------------------

def test_explosive_derivative_is_refused_before_printing():
    # was: 274 MB of text in 2.7 s (1.9 GB of memory); order 18 an internal MemoryError
    for order in ("16", "18"):
        rc, out, err, _ = cli("diff", "x^x", "--order", order)
        assert rc == 2, err
        assert out == ""                            # refused before any output
        assert "would print as about" in err and "over the limit of" in err
        assert "--at x=" in err and "PARTIALD_MAX_PRINTED_CHARS" in err
        assert "internal error" not in err


def test_explosive_derivative_is_evaluated_with_at():
    rc, out, err, _ = cli("diff", "x^x", "--order", "16", "--at", "x=1.5")
    assert rc == 0, err
    assert len(out) < 2000
    assert "too large to print" in out
    value = float(out.splitlines()[1].rsplit("=", 1)[1])
    assert value == pytest.approx(236398556.830742, rel=1e-9)       # SymPy's d^16/dx^16 x^x at 3/2


def test_mixed_partial_of_high_order_is_refused_or_evaluated():
    # was: 598 MB written using 4.6 GB
    rc, out, err, _ = cli("diff", "exp(x*y*z)", "--wrt", "x,y,z", "--order", "20", "--mixed")
    assert rc == 2 and out == ""
    assert "∂⁶⁰f/∂x²⁰∂y²⁰∂z²⁰ would print as about" in err      # the label names the order
    rc, out, err, _ = cli("diff", "exp(x*y*z)", "--wrt", "x,y,z", "--order", "2", "--mixed",
                          "--at", "x=0.5,y=0.3,z=0.2")
    assert rc == 0, err
    assert "∂⁶f/∂x²∂y²∂z²" in out
    assert float(out.splitlines()[1].rsplit("=", 1)[1]) == pytest.approx(5.14663073540783, rel=1e-12)


def test_json_leaves_out_what_is_too_large_to_print():
    import json
    rc, out, err, _ = cli("diff", "x^x", "--order", "16", "--at", "x=1.5", "--json")
    assert rc == 0, err
    res = json.loads(out)
    assert res["derivatives"] == {"x": None}
    assert res["too_large_to_print"]["x"] > printing.MAX_PRINTED_CHARS
    assert res["values"]["x"] == pytest.approx(236398556.830742, rel=1e-9)


def test_many_results_together_count_against_the_limit():
    text = "exp(" + "+".join(f"x{i}" for i in range(12)) + ")"
    env = {"PARTIALD_MAX_PRINTED_CHARS": "3000"}      # each entry ~80 characters, 78 of them
    rc, out, err, _ = cli("hessian", text, env=env)
    assert rc == 2 and out == ""
    assert "the 78 results together would print as about" in err
    point = ",".join(f"x{i}=0" for i in range(12))
    rc, out, err, _ = cli("hessian", text, "--at", point, env=env)
    assert rc == 0, err
    assert out.count("too large to print") == 78 and out.count("= 1\n") == 78


def test_library_printing_refuses_and_the_limit_is_adjustable(monkeypatch):
    d = expr("x^x").diff("x", n=16)
    t = time.process_time()
    with pytest.raises(ExpressionTooLarge, match="would print as about"):
        str(d)
    with pytest.raises(ExpressionTooLarge):
        d.latex()
    assert time.process_time() - t < 5
    assert d(x=1.5) == pytest.approx(236398556.830742, rel=1e-9)         # evaluation needs no text
    small = expr("x^x").diff("x", n=3)
    assert len(printing.to_str(small.node, max_chars=10_000)) > 100
    with pytest.raises(ExpressionTooLarge):
        printing.to_str(small.node, max_chars=100)
    monkeypatch.setattr(printing, "MAX_PRINTED_CHARS", 100)
    with pytest.raises(ExpressionTooLarge):
        str(small)
    monkeypatch.setattr(printing, "MAX_PRINTED_CHARS", 0)               # 0: no limit
    assert str(small) == printing.to_str(small.node, max_chars=10_000)


def test_size_estimate_bounds_the_text():
    rng = random.Random(3)
    texts = ["x^x", "exp(x*y*z)", "sin(x)*cos(x)*exp(x)*tan(x)", "alpha_1*theta + x123^(1/3) - 5/7*y",
             "(1 + x^2)^(-3/2)*sqrt(y) - 1/(x - y)^2 + abs(x)/y", "x/0 + y", "10^40*x^(1/3) - (2/3)^y"]
    for _ in range(30):
        a, b = rng.choice(texts), rng.choice(texts)
        texts.append(f"({a})*({b})" if rng.random() < 0.5 else f"({a})/(1 + ({b})^2)")
    for t in texts:
        f = expr(t)
        for d in [f] + [f.diff(v) for v in f.variables] + [f.diff(f.variables[0], n=3)]:
            if printing.printed_size(d.node) > 2_000_000:
                continue
            for form, printer in printing.PRINTERS.items():
                estimate = printing.printed_size(d.node, form)
                actual = len(printer().doprint(d.node))
                assert actual <= estimate, (t, form)
                if actual > 1000:
                    assert estimate < 3 * actual, (t, form, estimate, actual)


def test_steps_stay_within_the_printing_limit():
    text = "^".join(["x"] * 480)         # --steps printed 181 MB (750 MB of memory)
    rc, out, err, _ = cli("diff", text, "--steps")
    assert rc == 0, err
    assert len(out) < 2 * printing.MAX_PRINTED_CHARS
    assert "more steps not shown" in out and out.rstrip().splitlines()[-1].startswith("result: ")


# -- item 1: a CPU budget for differentiation and canonicalization ---------------------------------

def test_cpu_budget_stops_a_growing_derivative(monkeypatch):
    # was: past 60 s at 5.2 GB (the CLI at order 15)
    f = expr("sin(x)*cos(x)*exp(x)*tan(x)")
    monkeypatch.setattr(limits, "MAX_SECONDS", 0.3)
    t = time.process_time()
    with pytest.raises(ExpressionTooLarge, match=r"differentiating by x, .* took more than 0.3 s of CPU time"):
        f.diff("x", n=16)
    assert time.process_time() - t < 5
    monkeypatch.setattr(limits, "MAX_SECONDS", 10.0)
    assert str(f.diff("x", n=2)).startswith("exp(x)")              # the formula is still usable
    assert limits._BUDGET.expires is None


def test_cpu_budget_in_the_cli():
    rc, out, err, seconds = cli("diff", "sin(x)*cos(x)*exp(x)*tan(x)", "--order", "15",
                                env={"PARTIALD_MAX_SECONDS": "1"})
    assert rc == 2 and out == ""
    assert "computing the derivatives took more than 1 s of CPU time" in err
    assert "PARTIALD_MAX_SECONDS" in err and "internal error" not in err


def test_budgets_nest_and_can_be_off(monkeypatch):
    monkeypatch.setattr(limits, "MAX_SECONDS", 0)
    with limits.deadline("outer"):
        assert limits._BUDGET.expires is None
    with limits.deadline("outer", seconds=100):
        outer = limits._BUDGET.expires
        with limits.deadline("inner", seconds=0.001):
            assert limits._BUDGET.expires == outer
    assert limits._BUDGET.expires is None


def test_bad_environment_value_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PARTIALD_X_LIMIT", "lots")
    with pytest.raises(ValueError, match="PARTIALD_X_LIMIT"):
        limits.env_number("PARTIALD_X_LIMIT", 1.0)
    monkeypatch.setenv("PARTIALD_X_LIMIT", "2.5")
    assert limits.env_number("PARTIALD_X_LIMIT", 1.0) == 2.5


# -- deep nesting: sort keys compare in linear time, without recursion ------------------------------

def test_nested_functions_differentiate_fast():
    # was: 8 s at 200 levels, over 60 s at 400
    rc, out, err, _ = cli("diff", nested("sin", 400))
    assert rc == 0, err
    f = expr(nested("sin", 480))
    t = time.process_time()
    d = f.diff("x")
    assert time.process_time() - t < 10                # about 0.2 s
    assert str(d).count("cos(") == 480


@pytest.mark.parametrize("levels", [400, 499])
def test_power_tower_under_the_nesting_limit_works(levels):
    # was: internal error (RecursionError) at 400 levels; 300 worked
    text = "^".join(["x"] * levels)
    rc, out, err, _ = cli("diff", text, "--at", "x=1.01")
    assert rc == 0, err
    assert "internal error" not in err
    assert out.splitlines()[-1] == "at x=1.01"


def test_sort_keys_order_as_nested_tuples():
    def expand(k):
        if type(k) is C._Key:
            k = k.t
        return tuple(expand(x) for x in k) if type(k) is tuple else k
    nodes = set()
    for depth in (C._DEEP - 2, C._DEEP - 1, C._DEEP, C._DEEP + 1, C._DEEP + 5, 3 * C._DEEP):
        for fn in ("sin", "exp"):
            s = "x"
            for i in range(depth):
                s = f"{fn}({s} + {i % 3})"
            for g in (expr(s), expr(s.replace("(x +", "(y +")), expr(s + "*y"), expr(s).diff("x")):
                nodes.update(C.topo_order(g.node))
    nodes = sorted(nodes, key=lambda n: id(n))
    assert max(n.height for n in nodes) > 2 * C._DEEP
    rng = random.Random(0)
    for _ in range(20000):
        a, b = rng.choice(nodes), rng.choice(nodes)
        ea, eb = expand(a.skey), expand(b.skey)
        want = (ea > eb) - (ea < eb)
        assert C._compare(a.skey, b.skey) == want
        assert (a.skey > b.skey) - (a.skey < b.skey) == want
    assert sorted(nodes, key=lambda n: n.skey) == sorted(nodes, key=lambda n: expand(n.skey))


def test_deep_keys_compare_without_recursion():
    a = expr(nested("sin", 499)).node
    b = expr(nested("sin", 499, "y")).node
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(250)          # well under the depth of the keys
    try:
        assert C._compare(a.skey, b.skey) == -1         # x < y at the bottom, 499 levels down
        assert a.skey < b.skey
    finally:
        sys.setrecursionlimit(limit)


# -- item 2: linear in the number of variables --------------------------------------------------------

def test_hundred_thousand_variables():
    # was: 15,000 variables past 60 s; expr() of 100,000 past 30 s (the target is 2 s in all)
    names = [f"x{i}" for i in range(100_000)]
    text = "+".join(names)
    t = time.perf_counter()
    f = expr(text)
    d = f.diff("x777")
    s = str(f)
    seconds = time.perf_counter() - t
    assert str(d) == "1"
    assert s == " + ".join(sorted(names))
    assert seconds < 10, seconds         # about 1.5 s on an idle 2-core machine


def test_all_partials_of_a_long_sum():
    # was: 32 s and 1 GB at 3,000 variables, past 60 s at 15,000 (their text, 94 KB, is near the
    # 128 KB a command-line argument may have)
    text = "+".join(f"{i + 1}*x{i}" for i in range(11000))
    rc, out, err, _ = cli("diff", text)
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 11001 and "\n∂f/∂x10999 = 11000\n" in out
    f = expr("+".join(f"x{i}*y{i}" for i in range(5000)))
    t = time.process_time()
    g = f.gradient()
    assert time.process_time() - t < 10     # about 0.3 s: each partial visits the terms it is in
    by_name = dict(zip(f.variables, g))
    assert str(by_name["x0"]) == "y0" and str(by_name["y4999"]) == "x4999"


def test_hessian_of_exp_of_a_long_sum():
    # was 11 s of CPU: each of the 1830 entries, the one formula exp(x0 + ... + x59), was printed
    # afresh, and term ordering built a dense exponent tuple over all 60 variables per term
    text = "exp(" + "+".join(f"x{i}" for i in range(60)) + ")"
    f = expr(text)
    t = time.process_time()
    H = f.hessian()
    texts = [str(h) for row in H for h in row]
    assert time.process_time() - t < 5      # about 0.5 s
    assert len(set(texts)) == 1
    rc, out, err, _ = cli("hessian", text, "--at", ",".join(f"x{i}=0" for i in range(60)))
    assert rc == 0, err
    assert out.count("= 1\n") == 1830


def test_term_order_is_sympys_with_negative_and_shared_exponents():
    def dense(n):       # the reference: SymPy's order by dense exponent tuples
        constant, pairs = n.args
        items = list(pairs) + ([(constant, None)] if constant != 0 else [])
        monos = [dict(printing._monomial(t)) if t is not None else {} for _, t in items]
        gens = sorted({g for m in monos for g in m}, key=lambda g: g.skey)
        keys = [tuple(-m.get(g, 0) for g in gens) for m in monos]
        return [items[i] for i in sorted(range(len(items)), key=lambda i: (
            keys[i], items[i][1].skey if items[i][1] is not None else ()))]
    rng = random.Random(7)
    atoms = ["x", "y", "z", "sin(x)", "exp(y)"]
    for _ in range(300):
        terms = []
        for _ in range(rng.randint(2, 7)):
            factors = [f"{rng.choice(atoms)}^({rng.choice([-3, -2, -1, 1, 2, 3, '1/2', '-1/2'])})"
                       for _ in range(rng.randint(1, 3))]
            terms.append(f"{rng.randint(-5, 5)}*" + "*".join(factors))
        terms.append(str(rng.randint(-3, 3)))
        n = expr(" + ".join(terms)).node
        if n.kind == "add":
            assert printing.ordered_terms(n) == dense(n)
    assert str(expr("1/2 + 6/x^3")) == "1/2 + 6/x^3"


def test_name_hints_still_found_among_many_names():
    names = [f"v{i}" for i in range(20000)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = time.process_time()
        expr(" + ".join(names + ["x", "y", "xy"]))
        assert time.process_time() - t < 10
    hints = [str(w.message) for w in caught if issubclass(w.category, FormulaWarning)]
    assert len(hints) == 1 and hints[0].startswith("'xy' in ") and hints[0].endswith("did you mean x*y?")


# -- item 9: huge exponents evaluate --------------------------------------------------------------------

def test_huge_integer_exponent_evaluates():
    # was: internal error (OverflowError: int too large to convert to float)
    rc, out, err, _ = cli("diff", "x^(10^400)", "--at", "x=1")
    assert rc == 0, err
    assert out.splitlines()[1].endswith("= inf")            # 10^400 * 1^(10^400 - 1)
    even, odd = expr("x^(10^400)"), expr("x^(10^400 + 1)")
    assert even(x=1) == 1.0 and even(x=-1) == 1.0 and odd(x=-1) == -1.0
    assert even(x=0.999) == 0.0 and even(x=1.001) == np.inf and odd(x=-1.001) == -np.inf
    assert odd(x=0) == 0.0 and expr("x^(-(10^400) - 1)")(x=0) == np.inf
    assert expr("x^(-(10^400))")(x=2) == 0.0
    assert even(x=np.array([-1.0, 0.5, 1.0])).tolist() == [1.0, 0.0, 1.0]
    assert even.diff("x")(x=-1) == -np.inf                  # 10^400 * (-1)^(odd)


def test_large_formulas_are_interpreted_not_compiled(monkeypatch):
    d = expr("sin(x)*cos(x)*exp(x)*tan(x)*y").diff("x", n=5)
    want = d(x=np.linspace(0, 1, 4), y=2.0)
    monkeypatch.setattr(E, "INTERPRET_ABOVE", 10)
    fresh = expr("sin(x)*cos(x)*exp(x)*tan(x)*y").diff("x", n=5)
    fresh._compiled = None
    got = fresh(x=np.linspace(0, 1, 4), y=2.0)
    assert fresh._compiled is None
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert fresh(x=0.3, y=1.0) == pytest.approx(d(x=0.3, y=1.0), rel=1e-13)
