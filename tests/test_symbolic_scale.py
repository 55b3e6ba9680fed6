"""``expr(python_function)`` on long loops: a chain of sums (products) is accumulated in a
builder instead of remade at every step, and the formula is still exactly the node that
interpreting the traced Graph one equation at a time (``graph_to_node``) gives.
"""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import partiald.numpy as pnp
from partiald import ExpressionTooLarge, expr
from partiald.core.graph import ShapedArray
from partiald.core.trace import Builder
from partiald.symbolic import canonical as C
from partiald.symbolic import expr as E
from partiald.symbolic.expr import Expr, function_node, graph_to_node


def trace(fn):
    names = list(inspect.signature(fn).parameters)
    b = Builder("test")
    ins = [b.new_arg(ShapedArray((), np.float64)) for _ in names]
    out = fn(*ins)
    return b.finish([t._var for t in ins], [out]), names


def both(fn):
    """(node by builders, node one equation at a time), or the exception types raised.
    Builders are used on every chain, however short (and then as by default: the two agree)."""
    graph, names = trace(fn)
    out = []

    def by_builders():
        saved = E._MIN_CHAIN
        E._MIN_CHAIN = 1
        try:
            node = function_node(graph, names)
        finally:
            E._MIN_CHAIN = saved
        assert function_node(graph, names) is node
        return node

    for route in (by_builders, lambda: graph_to_node(graph, names)[0]):
        try:
            out.append(route())
        except (ExpressionTooLarge, ZeroDivisionError, OverflowError, ValueError) as e:
            out.append(type(e))
    return out


# -- random loops over a sum and a product ------------------------------------------------------

def _term(kind, k, x, y):
    if kind == 0:
        return x
    if kind == 1:
        return k * x
    if kind == 2:
        return x**k
    if kind == 3:
        return 2 * x + 2 * k              # a sum with a common factor: mul() takes it out
    if kind == 4:
        return x + k
    if kind == 5:
        return k * x + k * y
    if kind == 6:
        return k * (x + y)                # a number times a sum: distributed in a sum
    if kind == 7:
        return pnp.sqrt(0 * x + 2)        # 2^(1/2): a number base
    if kind == 8:
        return x**y
    if kind == 9:
        return pnp.cos(k * y)
    if kind == 10:
        return (x + 1) ** 0.5
    if kind == 11:
        return (2 * x + 2) ** (k / 3)
    if kind == 12:
        return (x + 1) ** -0.5
    if kind == 13:
        return math.inf if k % 2 else -math.inf
    if kind == 14:
        return 0 * x
    if kind == 15:
        return (x + 1) * (y - k) / k
    if kind == 16:
        return pnp.exp(x) ** k
    if kind == 17:
        return y / 3
    if kind == 18:
        return -x
    if kind == 19:
        return (x + 1) ** y
    if kind == 20:
        return (2 * x + 2) ** 2            # a power mul() would change: 4*(x + 1)^2
    return x * y**2 / (k + 1)


def random_function(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    palette = rng.choice(22, size=int(rng.integers(1, 8)), replace=False)   # few kinds: they repeat
    kinds = rng.choice(palette, size=n)
    ops = rng.integers(0, 16, size=n)
    ks = rng.integers(1, 5, size=n)
    final = int(rng.integers(0, 4))

    def f(x, y):
        s, p = 0, 1
        for kind, op, k in zip(kinds, ops, ks):
            t = _term(int(kind), int(k), x, y)
            if op <= 3:
                s = s + t
            elif op == 4:
                s = s - t
            elif op == 5:
                s = t + s
            elif op == 6:
                s = t - s
            elif op <= 9:
                p = p * t
            elif op == 10:
                p = p / t
            elif op == 11:
                p = t * p
            elif op == 12:
                p = -p
            elif op == 13:
                s = s * 2 + p               # the sum read by a product, the product by a sum
            elif op == 14:
                s = s + s                   # read twice
            else:
                p = pnp.cos(p) + s          # read by something else
        return [s + p, s * p, s - p, s / (p + 1)][final]

    return f


@pytest.mark.parametrize("block", range(8))
def test_builders_give_the_node_of_one_equation_at_a_time(block):
    for seed in range(block * 60, block * 60 + 60):
        with np.errstate(all="ignore"):
            new, old = both(random_function(seed))
        assert new is old, seed


def test_long_chains_give_the_same_node():
    def shapes(n):
        def sum_pow(x, y):
            s = 0
            for k in range(1, n + 1):
                s = s + k * x**k / (k + y)
            return s

        def cancel(x, y):
            s = 0
            for k in range(1, n + 1):
                s = s + x**k - x**(k - 1)     # telescopes: collapses back to one term and up
            return s

        def prod(x):
            p = 1
            for k in range(1, n + 1):
                p = p * (x + k)
            return p

        def prod_content(x, y):
            p = 1
            for k in range(1, n + 1):
                p = p / (2 * x + 2 * k * y) * (x + k * y)
            return p

        def same_base(x):
            p = 1
            for k in range(1, n + 1):
                p = p * x ** (1 if k % 3 else -2)
            return p
        return [sum_pow, cancel, prod, prod_content, same_base]

    for n in (1, 2, 3, 10, 200):
        for fn in shapes(n):
            new, old = both(fn)
            assert new is old, (fn.__name__, n)


def test_chains_through_steps_that_are_not_plain_merges():
    def collapse(x, y):
        s = (2 * x + 2) ** 2 + y
        s = s + (2 * x + 2) ** 2
        s = s - y          # one term, 2*(2x + 2)^2, which mul() makes 8*(x + 1)^2
        s = s + y
        return s

    def two_reductions(x, y):
        p = x * (2 * x + 2) ** (2 / 3)
        p = p * (4 * x + 4) ** (2 / 3)
        q = (2 * x + 2) ** (1 / 3) * (4 * x + 4) ** (1 / 3)
        p = p * q          # both sums reach exponent 1, and both reduce to x + 1
        return p * y

    def cancel_to_number(x, y):
        s = x + 1
        s = s - x          # the number 1
        s = s * 1 + y
        p = x * y
        p = p / x / y      # the number 1
        p = p * (x + 2)
        return s + p

    for fn in (collapse, two_reductions, cancel_to_number):
        new, old = both(fn)
        assert new is old, fn.__name__


def test_builders_start_from_any_node():
    x, y = C.sym("x"), C.sym("y")
    unreduced = C.power(C.add(C.mul(C.num(2), x), C.num(2)), C.num(2))     # (2x + 2)^2 as it is
    assert unreduced.kind == "mul"
    for start in (unreduced, C.ZERO, C.ONE, x, C.add(x, C.ONE), C.num(float("nan"))):
        b = C.ProductBuilder(start)
        b.mul(y)
        assert b.node() is C.mul(start, y)
        b = C.SumBuilder(start)
        b.add(y)
        assert b.node() is C.add(start, y)


def test_work_grows_linearly_with_the_number_of_terms(monkeypatch):
    """The sums and products made over a loop of n steps hold O(n) terms in all (one
    equation at a time they would hold O(n^2))."""
    work = [0]
    add_finish, make_mul = C._add_finish, C._make_mul

    def counting_add_finish(constant, terms):
        work[0] += len(terms)
        return add_finish(constant, terms)

    def counting_make_mul(coef, factors):
        work[0] += len(factors)
        return make_mul(coef, factors)

    monkeypatch.setattr(C, "_add_finish", counting_add_finish)
    monkeypatch.setattr(C, "_make_mul", counting_make_mul)

    def sums(n):
        def f(x, y):
            s = 0
            for k in range(1, n + 1):
                s = s + k * x**k / (k + y)
            return s
        return f

    def products(n):
        def f(x, y):
            p = 1
            for k in range(1, n + 1):
                p = p * (x + k) / (2 * y + 2 * k)
            return p
        return f

    for make in (sums, products):
        counts = []
        for n in (500, 1000, 2000):
            work[0] = 0
            expr(make(n))
            counts.append(work[0])
        assert counts[2] < 40 * 2000, (make.__name__, counts)
        assert counts[2] < 2.5 * counts[1] < 6.25 * counts[0], (make.__name__, counts)


def test_size_limits_still_hold(monkeypatch):
    def f(x):
        s = 0
        for k in range(1, 1001):
            s = s + x**k
        return s
    monkeypatch.setattr(C, "MAX_NODES", 500)
    with pytest.raises(ExpressionTooLarge):
        expr(f)

    def g(x):
        p = x
        for _ in range(6):
            p = p * 2**1000
        return p
    new, old = both(g)
    assert new is old is ExpressionTooLarge
    with pytest.raises(ExpressionTooLarge):
        expr(g)

    def h(x):
        s = x
        for _ in range(6):
            s = s + 2**1000 * x**2
            s = s * 2**1000
        return s
    new, old = both(h)
    assert new is old is ExpressionTooLarge


def test_common_integer_factors_of_sums_in_products():
    # a product takes the common factor out of a sum wherever the two meet (the reduced
    # sum's power coming before or after it in the product)
    x1 = C.add(C.sym("x"), C.ONE)
    cases = [("(x+1)*(2*x+2)", C.mul(C.num(2), C.power(x1, C.num(2)))),
             ("(2*x+2)*(x+1)", C.mul(C.num(2), C.power(x1, C.num(2)))),
             ("(x+1)*(2*x+2)*sqrt(2)*sqrt(2)", C.mul(C.num(4), C.power(x1, C.num(2)))),
             ("(2*x+2)*(x+1)*sqrt(2)*sqrt(2)", C.mul(C.num(4), C.power(x1, C.num(2)))),
             ("(x+1)^(1/2)*(4*x+4)^(1/2)", C.mul(C.num(2), x1)),
             ("(x+1)^(-1)*(2*x+2)", C.num(2))]
    for text, node in cases:
        f = expr(text)
        assert f.node is C.normalize(node), text
        assert f.equals(Expr(node)), text


def test_printed_text_shared_by_a_formula_family():
    # str() of a formula and of its derivatives reuses the text of the nodes they share
    # (printing.Printer.doprint's ``shared``, kept in the family's derivative cache): the
    # text must be what a fresh print gives, and the length limit still applies
    from partiald.symbolic.printing import to_str
    f = expr("exp(x*y)*sin(x + y^2)/(1 + x^2) + tan(x)^(3/2)*sqrt(y)")
    ds = [f, f.diff("x"), f.diff("y"), f.diff("x", "y"), f.diff("x", n=3), f.diff("x", "y", "y")]
    for _ in range(2):
        for d in ds:
            assert str(d) == to_str(d.node)
    cache = f._diff_cache()
    assert cache.printed and all(d._diff_cache() is cache for d in ds)
    with pytest.raises(ExpressionTooLarge):
        to_str(ds[-1].node, max_chars=10, shared=cache.printed)
    # a derivative kept alone (its family gone) prints the same
    text = str(ds[4])
    g = ds[4]
    del f, ds, cache
    assert str(g) == text == to_str(g.node)
