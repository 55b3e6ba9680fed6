"""How ``Expr.diff`` computes: the engine's JVP rules on each node's lowering, cached per
node and shared by a formula's derivatives, with exact numbers stored as int or Fraction.

The reference for every derivative is the whole-Graph route: lower the formula to a Graph
(``node_to_graph(..., exact=True)``), interpret it on symbols, push tangents through it
with ``jvp_graph_eval`` and normalize. ``diff`` must give the very same canonical node.
"""
from __future__ import annotations

import gc
import threading
from fractions import Fraction

import numpy as np
import pytest

import partiald.numpy as pnp
from partiald import ExpressionTooLarge, expr
from partiald.symbolic import canonical as C
from partiald.symbolic.expr import Expr, graph_to_node, node_to_graph
from partiald.transforms.forward import jvp_graph_eval


def graph_route(f, var):
    """d f / d var through the whole lowered Graph (the reference)."""
    graph = node_to_graph(f.node, f.variables, exact=True)
    _, values = graph_to_node(graph, f.variables)
    tangents = [C.ONE if v == var else None for v in f.variables]
    (t,) = jvp_graph_eval(graph, values, tangents, literal=C.as_node)
    return Expr(C.ZERO if t is None else C.as_node(t), f.variables)


UNARY = ["exp", "log", "sin", "cos", "tanh", "sqrt", "sigmoid", "abs", "relu", "step", "softplus", "atan",
         "sign", "sinh"]
LEAVES = ["x", "y", "x", "y", "2", "1/3", "pi", "5/2", "0.1", "10^20", "e"]


def random_text(rng, depth):
    if depth == 0 or rng.random() < 0.15:
        return LEAVES[rng.integers(len(LEAVES))]
    r = rng.random()
    a = random_text(rng, depth - 1)
    if r < 0.45:
        b = random_text(rng, depth - 1)
        op = ["+", "-", "*", "/"][rng.integers(4)]
        return f"({a} {op} {b})" if op != "/" else f"({a})/(1 + ({b})^2)"
    if r < 0.6:
        p = ["2", "3", "-1", "-2", "(1/2)", "(3/2)", "(-1/3)", "y", "x"][rng.integers(9)]
        return f"(1 + ({a})^2)^{p}" if not p.isalpha() else f"(1 + ({a})^2)^({p})"
    return f"{UNARY[rng.integers(len(UNARY))]}({a})"


TEXTS = [
    "exp(x*y)*sin(x + y^2)/(1 + x^2)", "x^y + y^x", "10^400*x^3 + x^(1/12345)", "2^(2^64)*x*y",
    "(2*x + 2*y)^3/(4*x + 4)", "(4*x + 4)^(3/2)*(2*y + 2)^(1/2)", "x^0.5*y^1.5 + 0.1*x", "x/0 + y",
    "step(x - y)*x^2 + relu(y)*abs(x)", "sign(x)*x^3 + softplus(x*y)", "log(exp(x*y)) + exp(log(x))",
    "123456789012345678901234567890*x/7 + (1/3)^100*y", "e^(x*y) + pi^x + (2/3)^y",
]
TEXTS += [random_text(np.random.default_rng(seed), 4) for seed in range(300)]


def _formulas():
    out = [expr(t) for t in TEXTS]
    out.append(expr(lambda x, y: pnp.maximum(x, y**2) * pnp.where(x > y, x, y) + pnp.minimum(x * y, 1.0)))
    out.append(expr(lambda x, y: pnp.logaddexp(x, y) + pnp.log1p(x * x) + pnp.expm1(y) + pnp.arcsin(x / 3)))
    return [f for f in out if f.variables]


def test_diff_is_the_graph_jvp_node_for_node():
    checked = 0
    for f in _formulas():
        for v in f.variables:
            d1 = f.diff(v)
            assert d1.node is graph_route(f, v).node, (str(f), v)
            checked += 1
            for w in f.variables:
                if w >= v and w in d1.node.free:
                    # the reference differentiates the first derivative afresh, with no cache
                    assert f.diff(v, w).node is graph_route(Expr(d1.node, f.variables), w).node, (str(f), v, w)
                    checked += 1
    assert checked > 500


def test_higher_orders_are_the_graph_jvp_too():
    f = expr("exp(x*y)*sin(x + y^2)/(1 + x^2)")
    for seq in ["xxxx", "xxxy", "xxyy", "xyyy", "yyyy", "xyxyx"]:
        ref = f
        for v in sorted(seq):
            ref = graph_route(Expr(ref.node, f.variables), v)
        assert f.diff(*seq).node is ref.node, seq


def _numbers(root):
    for n in C.topo_order(root):
        if n.kind == "num":
            yield n.args[0]
        elif n.kind in ("add", "mul"):
            yield n.args[0]
            if n.kind == "add":
                yield from (c for c, _ in n.args[1])


def test_numbers_are_stored_as_int_fraction_or_nonfinite_float():
    for f in _formulas()[:80]:
        for d in [f] + [f.diff(v) for v in f.variables]:
            for q in _numbers(d.node):
                assert type(q) in (int, Fraction, float), (str(d), q)
                if type(q) is Fraction:
                    assert q.denominator != 1, (str(d), q)      # an integer is an int
                if type(q) is float:
                    assert not np.isfinite(q), (str(d), q)      # a finite number is exact


def test_equal_numbers_are_one_node_whatever_their_type():
    assert C.num(3) is C.num(Fraction(6, 2)) is C.num(3.0) is C.num(np.int64(3)) is C.num(np.float64(3.0))
    assert C.num(True) is C.ONE and C.num(Fraction(1, 2)) is C.num(0.5)
    assert C.num(float("nan")) is C.num(float("nan"))
    assert C.numval(C.num(10**400)) == 10**400 and C.numval(C.num(Fraction(1, 12345))) == Fraction(1, 12345)
    assert C.to_number(1e300) == 10**300             # floats keep their shortest decimal value
    assert expr("2.0*x") == expr("2*x") and expr("x/2") == expr("0.5*x")


def _live_nodes():
    gc.collect()
    return len(C._TABLE)


def test_derivative_caches_are_freed_with_the_formula_without_gc():
    before = _live_nodes()
    gc.disable()
    try:
        f = expr("exp(x*y)*sin(x + y^2)/(1 + x^2)")
        ds = [f.diff(*o) for o in ("xxxx", "xxyy", "yyyy")]
        assert len(C._TABLE) > before
        del f, ds
        # no reference cycles: the nodes, memos and caches go as soon as the formula does
        assert len(C._TABLE) <= before
    finally:
        gc.enable()


def test_a_derivative_outliving_its_formula_still_differentiates():
    f = expr("sin(x)*exp(x*y)")
    d = f.diff("x")
    expected = str(f.diff("x", "y"))
    del f
    gc.collect()
    assert str(d.diff("y")) == expected
    assert str(d.diff("y")) == expected


def test_explain_is_unchanged_by_the_shared_cache():
    f = expr("exp(x*y)*sin(x + y^2)/(1 + x^2)")
    fresh = expr("exp(x*y)*sin(x + y^2)/(1 + x^2)")
    fresh.diff("x", "y")                       # warm this one's cache first
    assert str(f.explain("y")) == str(fresh.explain("y"))


def test_memo_is_off_outside_diff_and_after_an_error(monkeypatch):
    assert C._STATE.memo is None
    expr("x^3*y").diff("x")
    assert C._STATE.memo is None
    f = expr("exp(x*y)*sin(x + y^2)/(1 + x^2)")
    monkeypatch.setattr(C, "MAX_NODES", 10)
    monkeypatch.setattr(C, "count_nodes", lambda root: 10**9)
    with pytest.raises(ExpressionTooLarge):
        f.diff("x")
    assert C._STATE.memo is None


def test_size_limit_still_applies_to_derivatives(monkeypatch):
    f = expr("exp(x*y)*sin(x + y^2)/(1 + x^2)")
    monkeypatch.setattr(C, "MAX_NODES", 60)
    with pytest.raises(ExpressionTooLarge):
        f.diff("x", "x", "y", "y")


def test_threads_get_the_same_derivatives():
    texts = TEXTS[:40]
    want = [[str(expr(t).diff(v, w)) for v in "xy" for w in "xy"] for t in texts]
    got = [None] * len(texts)

    def work(i):
        f = expr(texts[i])
        got[i] = [str(f.diff(v, w)) for v in "xy" for w in "xy"]
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == want
    assert C._STATE.memo is None
