"""One loss, several spellings: the same derivative, and the same shape of program.

A logistic loss written through softplus, logaddexp or sigmoid (with ``X @ w``
computed once or twice) has one Hessian, ``X^T diag(p (1 - p)) X / n``. Each
spelling must give it (against the closed form), and its ``jit(hessian)`` program
must have the cost structure of that closed form: the forward ``X @ w`` and ONE
product with ``X`` for the whole Hessian, and no masked copy of the (d, n) tangent
basis (a ``select`` in a derivative rule materializes one). Timings are in bench/
(``python -m bench hessian hessian-tall``); this checks the structure they come from.
"""
import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald import nn


def softplus_form(w, X, y):
    z = X @ w
    return pnp.mean(nn.softplus(z) - y * z)


def logaddexp_form(w, X, y):
    return pnp.mean(pnp.logaddexp(0.0, X @ w) - y * (X @ w))


def logaddexp_swapped(w, X, y):
    return pnp.mean(pnp.logaddexp(X @ w, 0.0) - y * (X @ w))


def sigmoid_form(w, X, y):
    p = nn.sigmoid(X @ w)
    return -pnp.mean(y * pnp.log(p) + (1 - y) * pnp.log(1 - p))


def sigmoid_twice(w, X, y):
    return -pnp.mean(y * pnp.log(nn.sigmoid(X @ w)) + (1 - y) * pnp.log(1 - nn.sigmoid(X @ w)))


def log1p_exp_form(w, X, y):
    z = X @ w
    return pnp.mean(pnp.log1p(pnp.exp(z)) - y * z)


SPELLINGS = [softplus_form, logaddexp_form, logaddexp_swapped, sigmoid_form, sigmoid_twice, log1p_exp_form]


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) / np.sqrt(d)
    y = (rng.uniform(size=n) < 0.5).astype(float)
    w = rng.normal(size=d)
    return w, X, y


def _closed_form(w, X, y):
    p = 1 / (1 + np.exp(-(X @ w)))
    return (X * (p * (1 - p))[:, None]).T @ X / len(y)


@pytest.mark.parametrize("f", SPELLINGS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("n, d", [(60, 5), (300, 12)])
def test_every_spelling_has_the_closed_form_hessian(f, n, d):
    w, X, y = _data(n, d)
    want = _closed_form(w, X, y)
    scale = np.abs(want).max()
    for H in (pdx.hessian(f)(w, X, y), pdx.jit(pdx.hessian(f))(w, X, y)):
        assert np.abs(H - want).max() <= 1e-12 * scale
        assert np.abs(H - H.T).max() <= 1e-12 * scale
    g = pdx.grad(f)(w, X, y)
    p = 1 / (1 + np.exp(-(X @ w)))
    np.testing.assert_allclose(g, X.T @ (p - y) / n, rtol=1e-12, atol=1e-14)


def _products_with_data(graph, n, d):
    """Equations that contract an (n, d)-sized operand: matrix products with the data."""
    names = {"einsum", "dot_general", "matmul", "dot"}
    return [e for e in graph.eqns if e.prim.name in names
            and any(hasattr(x, "aval") and x.aval.size == n * d and len(x.aval.shape) == 2
                    for x in e.inputs)]


@pytest.mark.parametrize("f", SPELLINGS, ids=lambda f: f.__name__)
def test_every_spelling_compiles_to_the_closed_forms_structure(f):
    n, d = 200, 7
    w, X, y = _data(n, d)
    graph, _ = pdx.jit(pdx.hessian(f)).lower(w, X, y)
    products = _products_with_data(graph, n, d)
    # X @ w forward, then one (d, n) @ (n, d) product for the whole Hessian: a value used
    # twice (X @ w, sigmoid(X @ w)) gets one cotangent before it flows back through X
    assert len(products) == 2, [(e.prim.name, e.params) for e in products]
    big = [e for e in graph.eqns if e.outvar.aval.size >= n * d]
    assert not [e for e in big if e.prim.name == "select"], "a masked copy of the tangent basis"
    # no batch axis of length 1 (jacrev of a scalar is a plain reverse pass)
    assert not [e for e in big if 1 in e.outvar.aval.shape]


# -- elementwise work on a transposed array runs in the array's own layout --------------------

def _transposed_program(X, r, c, s):
    T = X.T                                       # (d, n), a strided view of X
    a = pnp.where(T > 0.1, T * r, -T) + c         # a row (n,), a column (d, 1), a scalar
    b = pnp.exp(a) * s - pnp.maximum(T, r)
    return b @ X, b, pnp.sum(b * T, axis=1)       # an einsum, the transposed value itself, a reduction


def test_sunk_transposes_compute_the_same_values():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 6))
    args = (X, rng.normal(size=50), rng.normal(size=(6, 1)), 0.7)
    got = pdx.jit(_transposed_program)(*args)
    want = _transposed_program(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(got[1], want[1])          # elementwise: exact


def test_no_elementwise_equation_reads_a_transpose_after_simplify():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 6))
    graph, _ = pdx.jit(_transposed_program).lower(X, rng.normal(size=50), rng.normal(size=(6, 1)), 0.7)
    made = {e.outvar: e for e in graph.eqns}
    elementwise = {"add", "sub", "mul", "safe_mul", "neg", "exp", "select", "compare", "maximum"}
    for e in graph.eqns:
        if e.prim.name in elementwise:
            for x in e.inputs:
                src = made.get(x)
                # only small operands (rows, columns) may be permuted to match
                assert src is None or src.prim.name != "transpose" or x.aval.size < 50 * 6, e.prim.name
