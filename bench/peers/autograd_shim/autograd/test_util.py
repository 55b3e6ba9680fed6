"""autograd.test_util's functions, written here over partiald.

The contract is autograd's: ``check_grads(f, argnum=0, modes=None,
order=2)(*args)`` compares the JVP with a central difference and the VJP with
the same difference through a random pairing, recursively up to ``order``.
The pairing is ``Re(sum(a * b))``, the convention partiald, JAX and autograd
share for complex values.
"""
from itertools import product

import numpy as onp

import partiald as pdx

from . import _nary, _make_jvp, _make_vjp

TOL = 1e-6
RTOL = 1e-6
EPS = 1e-6


def scalar_close(a, b):
    return abs(a - b) < TOL or abs(a - b) / abs(a + b) < RTOL


def _leaves(x):
    return pdx.tree_leaves(x)


def _map(f, *xs):
    return pdx.tree_map(f, *xs)


def _randn_like(x, rng):
    def one(a):
        a = onp.asarray(a)
        r = rng.standard_normal(a.shape)
        if onp.iscomplexobj(a):
            r = r + 1j * rng.standard_normal(a.shape)
        return r.astype(a.dtype) if a.dtype.kind in "fc" else r
    return _map(one, x)


def _pair(a, b):
    """Re(sum(a * b)) over matching pytrees."""
    return float(sum(onp.real(onp.sum(onp.asarray(p) * onp.asarray(q)))
                     for p, q in zip(_leaves(a), _leaves(b))))


def _inner(a, b):
    """autograd's inner product Re(sum(conj(a) * b))."""
    return float(sum(onp.real(onp.sum(onp.conj(onp.asarray(p)) * onp.asarray(q)))
                     for p, q in zip(_leaves(a), _leaves(b))))


def _numerical_jvp(f, x):
    def jvp(v):
        xp = _map(lambda a, d: onp.asarray(a) + d * (EPS / 2), x, v)
        xm = _map(lambda a, d: onp.asarray(a) - d * (EPS / 2), x, v)
        return _map(lambda p, m: (onp.asarray(p) - onp.asarray(m)) / EPS, f(xp), f(xm))
    return jvp


def _same_structure(a, b):
    la, lb = _leaves(a), _leaves(b)
    assert len(la) == len(lb), f"structure mismatch: {len(la)} vs {len(lb)} leaves"
    for p, q in zip(la, lb):
        assert onp.shape(p) == onp.shape(q), f"shape mismatch: {onp.shape(p)} vs {onp.shape(q)}"


_rng = onp.random.default_rng(0)


def check_vjp(f, x):
    vjp, y = _make_vjp(f, x)
    jvp = _numerical_jvp(f, x)
    x_v, y_v = _randn_like(x, _rng), _randn_like(y, _rng)
    vjp_y = vjp(y_v)
    _same_structure(vjp_y, x)
    exact = _pair(vjp_y, x_v)
    numeric = _pair(y_v, jvp(x_v))
    assert scalar_close(numeric, exact), (
        f"Derivative (VJP) check of {getattr(f, '__name__', f)} failed with arg {x}:\n"
        f"analytic: {exact}\nnumeric:  {numeric}")


def check_jvp(f, x):
    x_v = _randn_like(x, _rng)
    check_equivalent(_make_jvp(f, x)(x_v)[1], _numerical_jvp(f, x)(x_v))


def check_equivalent(x, y):
    _same_structure(x, y)
    v = _randn_like(x, _rng)
    assert scalar_close(_inner(x, v), _inner(y, v)), f"Value mismatch:\nx: {x}\ny: {y}"


@_nary
def check_grads(f, x, modes=None, order=2):
    if modes is None:
        modes = ["fwd", "rev"]
    assert all(m in ["fwd", "rev"] for m in modes)
    if "fwd" in modes:
        check_jvp(f, x)
        if order > 1:
            def jvp_f(x, v):
                return _make_jvp(f, x)(v)[1]
            jvp_f.__name__ = f"jvp_{getattr(f, '__name__', 'f')}"
            check_grads(jvp_f, (0, 1), modes, order=order - 1)(x, _randn_like(x, _rng))
    if "rev" in modes:
        check_vjp(f, x)
        if order > 1:
            def vjp_f(x, v):
                return _make_vjp(f, x)[0](v)
            vjp_f.__name__ = f"vjp_{getattr(f, '__name__', 'f')}"
            check_grads(vjp_f, (0, 1), modes, order=order - 1)(x, _randn_like(f(x), _rng))


def combo_check(fun, *args, **kwargs):
    def _combo_check(*cargs, **ckwargs):
        keyvals = [[(k, v) for v in vs] for k, vs in ckwargs.items()]
        for a in product(*cargs):
            for kw in product(*keyvals):
                check_grads(fun, *args, **kwargs)(*a, **dict(kw))
    return _combo_check
