"""Array constructors of partiald.numpy with traced arguments (issue 12 item 4).

With nothing traced each constructor is NumPy's own call (bitwise). A traced value
that decides a shape or a length raises TracerConversionError saying so (never a
RecursionError); a traced value that fills or spaces the array is differentiable:
the fill value of full/full_like, the endpoints of linspace/logspace/geomspace, the
vectors of meshgrid.
"""
import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald import TracerConversionError


def _same(actual, expected):
    """Equal bit for bit: dtype, shape and every value (NaN payloads and zero signs too)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert np.ascontiguousarray(actual).tobytes() == np.ascontiguousarray(expected).tobytes(), (actual, expected)


# -- nothing traced: NumPy's values exactly -------------------------------------------------

A32 = np.array([1.5, -2.0], np.float32)
UNTRACED = [
    ("linspace", (0.0, 1.0), {}),
    ("linspace", (0.0, 1.0, 7), {"endpoint": False}),
    ("linspace", (-3, 5, 9), {}),
    ("linspace", (2.0, 3.0, 5), {"retstep": True}),
    ("linspace", (2.0, 3.0, 1), {"retstep": True}),
    ("linspace", (2.0, 3.0, 0), {}),
    ("linspace", (1e-310, 2e-310, 4), {}),
    ("linspace", (0.0, A32, 4), {"axis": -1}),
    ("linspace", ([0.0, 1.0], [[2.0], [3.0]], 3), {"axis": 1}),
    ("linspace", (0.0, 10.0, 6), {"dtype": np.int64}),
    ("linspace", (np.float32(0.25), 1.0, 6), {}),
    ("logspace", (0.0, 2.0, 5), {}),
    ("logspace", (0.0, 3.0, 4), {"base": 2.0, "endpoint": False}),
    ("logspace", (0.0, [1.0, 2.0], 3), {"base": [2.0, 3.0], "axis": 1}),
    ("geomspace", (1.0, 1000.0, 4), {}),
    ("geomspace", (-1.0, -1000.0, 5), {"endpoint": False}),
    ("geomspace", (1.0, [10.0, 100.0], 3), {"axis": -1}),
    ("zeros", ((2, 3),), {}),
    ("zeros", (4,), {"dtype": np.int32}),
    ("ones", ((3,),), {"dtype": np.float32}),
    ("empty", ((2, 2),), {}),
    ("full", ((2, 3), 1.5), {}),
    ("full", (3, 7), {}),
    ("full", ((2, 2), [1.0, 2.0]), {"dtype": np.float32}),
    ("eye", (3,), {}),
    ("eye", (3, 4, 1), {"dtype": np.int64}),
    ("identity", (3,), {}),
    ("tri", (3, 4, -1), {}),
    ("arange", (5,), {}),
    ("arange", (0.0, 1.0, 0.1), {}),
    ("arange", (2, 11, 3), {"dtype": np.float32}),
    ("zeros_like", (A32,), {}),
    ("ones_like", (A32,), {"dtype": np.float64}),
    ("full_like", (A32, 0.1), {}),
    ("full_like", (np.arange(3), 2.7), {}),
    ("full_like", (A32, 2.0), {"shape": (2, 2)}),
    ("meshgrid", (np.arange(3.0), np.arange(2.0)), {}),
    ("meshgrid", (np.arange(3.0), np.arange(2.0), np.arange(4.0)), {"indexing": "ij"}),
    ("meshgrid", (np.arange(3.0), np.arange(2.0)), {"sparse": True}),
]


@pytest.mark.parametrize("name, args, kwargs", UNTRACED, ids=[f"{c[0]}-{i}" for i, c in enumerate(UNTRACED)])
def test_untraced_values_are_numpys(name, args, kwargs):
    ref = getattr(np, name)(*args, **kwargs)
    out = getattr(pnp, name)(*args, **kwargs)
    if name == "empty":
        ref = np.zeros(*args, **kwargs)          # pnp.empty fills with zeros
    if isinstance(ref, (tuple, list)):
        assert len(out) == len(ref)
        for o, r in zip(out, ref):
            _same(o, r)
    else:
        _same(out, ref)


def test_empty_like_is_zeros():
    _same(pnp.empty_like(A32), np.zeros_like(A32))


# -- traced endpoints: the values are still NumPy's ------------------------------------------

LINSPACE_CASES = [
    (0.0, 1.0, 5, True), (-2.5, 7.25, 8, False), (3.0, 3.0, 4, True), (1.0, -1.0, 2, True),
    (0.1, 0.7, 1, True), (0.1, 0.7, 1, False), (1e3, -1e-3, 33, True),
]


@pytest.mark.parametrize("a, b, n, endpoint", LINSPACE_CASES)
def test_linspace_traced_values_match_numpy(a, b, n, endpoint):
    ref = np.linspace(a, b, n, endpoint=endpoint)

    def f(s, t):
        return pnp.linspace(s, t, n, endpoint=endpoint)
    _same(pdx.jit(f)(a, b), ref)
    _same(pdx.jvp(f, (a, b), (1.0, 0.0))[0], ref)
    _same(pdx.vmap(f, in_axes=(None, 0))(a, np.array([b, b]))[1], ref)


def test_linspace_traced_dtypes_follow_numpy():
    x32 = np.float32(2.0)
    _same(pdx.jit(lambda t: pnp.linspace(0.0, t, 5))(x32), np.linspace(0.0, x32, 5))
    _same(pdx.jit(lambda t: pnp.linspace(0.0, t, 5, dtype=np.float32))(2.0),
          np.linspace(0.0, 2.0, 5, dtype=np.float32))
    _same(pdx.jit(lambda t: pnp.linspace(0.0, t, 6, dtype=np.int64))(10.0), np.linspace(0.0, 10.0, 6, dtype=np.int64))
    y, step = pdx.jvp(lambda t: pnp.linspace(0.0, t, 5, retstep=True), (2.0,), (1.0,))[0]
    ref, ref_step = np.linspace(0.0, 2.0, 5, retstep=True)
    _same(y, ref)
    assert float(step) == ref_step


def test_linspace_traced_array_endpoints_and_axis():
    a, b = np.array([0.0, 1.0, -2.0]), np.array([[2.0], [5.0]])
    for axis in (0, 1, -1, 2):
        ref = np.linspace(a, b, 4, axis=axis)
        _same(pdx.jit(lambda s, t: pnp.linspace(s, t, 4, axis=axis))(a, b), ref)
    with pytest.raises(np.exceptions.AxisError):
        pdx.jit(lambda s: pnp.linspace(s, 1.0, 4, axis=2))(np.zeros(3))


def test_numpy_function_on_a_tracer_dispatches_here():
    """np.linspace / np.full_like / np.meshgrid on a traced value reach partiald.numpy
    (before: np.linspace -> pnp.linspace = np.linspace -> RecursionError)."""
    assert pdx.grad(lambda t: np.sum(np.linspace(0.0, t, 5)))(1.0) == pytest.approx(2.5, abs=1e-15)
    assert pdx.grad(lambda t: pnp.sum(np.full_like(t, 2.0) * t))(1.5) == 2.0
    x = np.array([1.0, 2.0])
    assert pdx.grad(lambda x: pnp.sum(np.zeros_like(x) + x))(x).tolist() == [1.0, 1.0]


# -- derivatives: closed forms and central differences --------------------------------------

def test_issue_examples():
    assert pdx.grad(lambda t: pnp.sum(pnp.linspace(0.0, t, 5)))(1.0) == pytest.approx(2.5, abs=1e-15)
    assert pdx.grad(lambda t: pnp.sum(pnp.full(3, t)))(1.0) == 3.0
    _same(pdx.jit(lambda t: pnp.linspace(0.0, t, 5))(1.0), np.linspace(0.0, 1.0, 5))
    # y_k = t (1 + k/4), k = 0..3: the sum's derivative is 4 + 6/4
    assert pdx.grad(lambda t: pnp.sum(pnp.linspace(t, 2 * t, 4, endpoint=False)))(1.0) == pytest.approx(5.5,
                                                                                                          abs=1e-15)


@pytest.mark.parametrize("n, endpoint", [(5, True), (5, False), (2, True), (1, True), (1, False), (0, True)])
def test_linspace_jacobian_closed_form(n, endpoint):
    """d y_k / d start = 1 - k/div, d y_k / d stop = k/div (the last sample of an
    endpoint sequence is stop itself: 0 and 1)."""
    div = n - 1 if endpoint else n
    k = np.arange(n, dtype=float)
    frac = k / div if div > 0 else np.zeros(n)
    if endpoint and n > 1:
        frac[-1] = 1.0

    def f(s, t):
        return pnp.linspace(s, t, n, endpoint=endpoint)
    for jac in (pdx.jacfwd, pdx.jacrev):
        if n == 0 and jac is pdx.jacrev:
            continue
        ja, jb = jac(f, argnums=(0, 1))(0.3, 1.9)
        np.testing.assert_allclose(ja, 1.0 - frac, rtol=0, atol=1e-15)
        np.testing.assert_allclose(jb, frac, rtol=0, atol=1e-15)
    ja, jb = pdx.jit(pdx.jacfwd(f, argnums=(0, 1)))(0.3, 1.9)
    np.testing.assert_allclose(jb, frac, rtol=0, atol=1e-15)


def test_linspace_array_endpoints_gradients():
    a, b = np.array([0.5, -1.0, 2.0]), np.array([3.0, 1.0, -4.0])
    w = np.random.default_rng(1).normal(size=(6, 3))

    def loss(a, b):
        return pnp.sum(w * pnp.linspace(a, b, 6)) + pnp.sum(pnp.sin(pnp.linspace(a, b, 4, endpoint=False, axis=1)))
    pdx.check_grads(loss, (a, b), order=2)
    frac = np.arange(6.0)[:, None] / 5
    ga, gb = pdx.grad(lambda a, b: pnp.sum(w * pnp.linspace(a, b, 6)), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(ga, np.sum(w * (1 - frac), axis=0), rtol=1e-14)
    np.testing.assert_allclose(gb, np.sum(w * frac, axis=0), rtol=1e-14)


def test_full_and_full_like_gradients():
    assert pdx.grad(lambda t: pnp.sum(pnp.full((2, 3), t) ** 2))(1.5) == pytest.approx(6 * 2 * 1.5, rel=1e-15)
    v = np.array([1.0, -2.0, 0.5])
    # full((4, 3), v): every row is v, so the Jacobian stacks four identities
    j = pdx.jacfwd(lambda v: pnp.full((4, 3), v))(v)
    np.testing.assert_array_equal(j, np.broadcast_to(np.eye(3), (4, 3, 3)))
    np.testing.assert_array_equal(pdx.jacrev(lambda v: pnp.full((4, 3), v))(v), j)
    x = np.zeros((2, 5))
    assert pdx.grad(lambda t: pnp.sum(pnp.full_like(x, t)))(0.25) == 10.0
    assert pdx.grad(lambda t: pnp.sum(pnp.full_like(x, t, shape=(3,))))(0.25) == 3.0
    # an integer array's full_like converts the fill value to integers: derivative 0
    assert pdx.grad(lambda t: pnp.sum(pnp.full_like(np.arange(3), t) * 1.0))(0.25) == 0.0
    # full with a traced fill casts to dtype, as NumPy (float32 stays float32)
    out = pdx.jit(lambda t: pnp.full(3, t, dtype=np.float32))(2.5)
    _same(out, np.full(3, 2.5, dtype=np.float32))
    pdx.check_grads(lambda t: pnp.sum(pnp.sin(pnp.full((2, 2), t))), (0.7,), order=2)


def test_full_errors_like_numpy():
    with pytest.raises(ValueError, match="cannot broadcast"):
        pdx.jit(lambda v: pnp.full((4, 1), v))(np.ones((1, 3)))
    with pytest.raises(ValueError, match="negative dimensions"):
        pdx.grad(lambda t: pnp.sum(pnp.full(-1, t)))(1.0)


def test_logspace_and_geomspace_gradients():
    # logspace: y_k = base ** (a + k (b - a) / div); d/db = ln(base) y_k k / div
    a, b, base, n = 0.5, 2.0, 3.0, 5
    k = np.arange(n) / (n - 1)
    y = base ** (a + k * (b - a))
    _same(pdx.jvp(lambda t: pnp.logspace(a, t, n, base=base), (b,), (1.0,))[0], np.logspace(a, b, n, base=base))
    np.testing.assert_allclose(pdx.jacfwd(lambda t: pnp.logspace(a, t, n, base=base))(b), np.log(base) * y * k,
                               rtol=1e-14)
    # d/dbase = sum_k y_k * e_k / base, e_k the exponents
    np.testing.assert_allclose(pdx.grad(lambda c: pnp.sum(pnp.logspace(a, b, n, base=c)))(base),
                               np.sum(y * (a + k * (b - a)) / base), rtol=1e-14)
    # geomspace: y_k = a (b/a) ** (k/div); d/da = (1 - k/div) y_k / a, d/db = (k/div) y_k / b
    a, b = 2.0, 50.0
    y = a * (b / a) ** k
    ja, jb = pdx.jacfwd(lambda s, t: pnp.geomspace(s, t, n), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(ja, (1 - k) * y / a, rtol=1e-13)
    np.testing.assert_allclose(jb, k * y / b, rtol=1e-13)
    # the endpoints are start and stop themselves, negative values included
    for s, t, ep in ((2.0, 50.0, True), (-1.0, -1000.0, True), (-3.0, -7.0, False)):
        out = pdx.jit(lambda s, t: pnp.geomspace(s, t, 4, endpoint=ep))(s, t)
        np.testing.assert_allclose(out, np.geomspace(s, t, 4, endpoint=ep), rtol=1e-15)
        assert out[0] == s and (out[-1] == t or not ep)
    pdx.check_grads(lambda s, t: pnp.geomspace(s, t, 6), (-1.5, -4.0), order=2)
    pdx.check_grads(lambda s, t: pnp.logspace(s, t, 4, base=2.0, endpoint=False), (0.3, 1.2), order=2)
    with pytest.raises(ValueError, match="cannot include zero"):
        pdx.grad(lambda t: pnp.sum(pnp.geomspace(0.0 * t, 1.0, 3)))(1.0)


def test_meshgrid_gradients():
    x, y = np.array([0.5, 1.0, 2.0]), np.array([-1.0, 3.0])
    for indexing in ("xy", "ij"):
        X, Y = np.meshgrid(x, y, indexing=indexing)
        out = pdx.jit(lambda x, y: pnp.meshgrid(x, y, indexing=indexing))(x, y)
        _same(out[0], X)
        _same(out[1], Y)
        gx, gy = pdx.grad(lambda x, y: pnp.sum(pnp.prod(pnp.stack(pnp.meshgrid(x, y, indexing=indexing)), axis=0)),
                          argnums=(0, 1))(x, y)
        # sum_ij x_i y_j: d/dx_i = sum(y), d/dy_j = sum(x)
        np.testing.assert_allclose(gx, np.full(3, y.sum()), rtol=1e-15)
        np.testing.assert_allclose(gy, np.full(2, x.sum()), rtol=1e-15)
    sx, sy = pnp.meshgrid(pnp.asarray([1.0, 2.0]), y, sparse=True)
    assert sx.shape == (1, 2) and sy.shape == (2, 1)
    pdx.check_grads(lambda x, y: pnp.sum(pnp.sin(pnp.meshgrid(x, y)[0] * pnp.meshgrid(x, y)[1])), (x, y), order=2)


def test_under_vmap():
    t = np.array([1.0, 2.0, -3.0])
    out = pdx.vmap(lambda t: pnp.linspace(0.0, t, 5))(t)
    _same(out, np.stack([np.linspace(0.0, s, 5) for s in t]))
    _same(pdx.vmap(lambda t: pnp.full((2,), t))(t), np.repeat(t[:, None], 2, axis=1))
    g = pdx.vmap(pdx.grad(lambda t: pnp.sum(pnp.linspace(t, 2 * t, 4, endpoint=False) ** 2)))(t)
    # sum_k t^2 (1 + k/4)^2: derivative 2 t sum_k (1 + k/4)^2
    np.testing.assert_allclose(g, 2 * t * np.sum((1 + np.arange(4) / 4) ** 2), rtol=1e-14)


def test_under_jit_of_grad_and_grad_of_jit():
    f = lambda t: pnp.sum(pnp.cos(pnp.linspace(0.0, t, 7)))  # noqa: E731
    k = np.arange(7) / 6
    expected = -np.sum(k * np.sin(k * 0.8))
    assert pdx.jit(pdx.grad(f))(0.8) == pytest.approx(expected, rel=1e-14)
    assert pdx.grad(pdx.jit(f))(0.8) == pytest.approx(expected, rel=1e-14)
    assert pdx.hessian(f)(0.8) == pytest.approx(-np.sum(k * k * np.cos(k * 0.8)), rel=1e-13)


# -- shapes and lengths: concrete integers work, traced values raise -------------------------

def test_integer_tracers_with_a_value_give_shapes():
    """Under grad an integer computed from traced values (the size of a mask) has a
    value: it may decide a shape (and its derivative is nothing)."""
    x = np.array([1.0, -1.0, 2.0])

    def f(x):
        n = pnp.sum(x > 0)                       # traced int64, value 2
        return pnp.sum(pnp.arange(n) * x[0]) + pnp.sum(pnp.zeros((n, 2))) + pnp.sum(pnp.eye(n) * x[2])
    assert pdx.grad(f)(x).tolist() == [1.0, 0.0, 2.0]


SHAPE_CALLS = {
    "zeros": lambda n: pnp.zeros(n), "ones": lambda n: pnp.ones((n, 2)), "empty": lambda n: pnp.empty(n),
    "full": lambda n: pnp.full(n, 1.0), "eye": lambda n: pnp.eye(n), "identity": lambda n: pnp.identity(n),
    "tri": lambda n: pnp.tri(3, n), "zeros_like": lambda n: pnp.zeros_like(np.ones(2), shape=(n,)),
    "ones_like": lambda n: pnp.ones_like(np.ones(2), shape=n), "full_like": lambda n: pnp.full_like(
        np.ones(2), 0.5, shape=(2, n)),
    "linspace": lambda n: pnp.linspace(0.0, 1.0, n), "logspace": lambda n: pnp.logspace(0.0, 1.0, n),
    "geomspace": lambda n: pnp.geomspace(1.0, 2.0, n),
}


@pytest.mark.parametrize("name", sorted(SHAPE_CALLS))
def test_traced_integer_shape_under_jit_and_vmap_raises(name):
    f = SHAPE_CALLS[name]
    what = "number of samples num" if "space" in name else "number of columns M" if name == "tri" else \
        "number of rows N" if name == "eye" else "size n" if name == "identity" else "shape"
    msg = rf"pnp\.{name}: the {what} depends on a traced value \(i64\[\]\) that has no concrete value"
    with pytest.raises(TracerConversionError, match=msg):
        pdx.jit(f)(3)
    with pytest.raises(TracerConversionError, match=msg):
        pdx.vmap(f)(np.array([2, 3]))
    # with a Python int (or as jit's static argument) it is NumPy's array
    assert pdx.jit(f, static_argnums=0)(3).shape == f(3).shape


@pytest.mark.parametrize("name", sorted(SHAPE_CALLS))
def test_traced_float_shape_raises(name):
    f = SHAPE_CALLS[name]
    for transform in (pdx.grad, pdx.jacfwd):
        with pytest.raises(TracerConversionError, match=rf"pnp\.{name}: the .* is a traced f64\[\] value, but .* "
                                                        r"must be an integer known while tracing"):
            transform(lambda t: pnp.sum(f(t)))(3.0)
    with pytest.raises(TracerConversionError, match=r"must be an integer known while tracing"):
        pdx.jit(f)(3.0)


@pytest.mark.parametrize("transform", [pdx.grad, pdx.jacfwd, pdx.jacrev, pdx.jit, pdx.vmap])
@pytest.mark.parametrize("form", ["stop", "start", "step", "only"])
def test_arange_with_a_traced_float_raises(transform, form):
    call = {"stop": lambda t: pnp.arange(0.0, t, 1.0), "start": lambda t: pnp.arange(t, 5.0),
            "step": lambda t: pnp.arange(0.0, 3.0, t), "only": lambda t: pnp.arange(t)}[form]
    name = "stop" if form == "only" else form
    x = np.array([3.0, 2.0]) if transform is pdx.vmap else 3.0
    with pytest.raises(TracerConversionError,
                       match=rf"pnp\.arange: its length depends on a traced value \({name}: f64\[\]\).*"
                             r"start \+ step \* pnp\.arange\(n\), or pnp\.linspace\(start, stop, n\)"):
        transform(lambda t: pnp.sum(call(t)))(x)


def test_arange_with_a_traced_integer_under_jit_raises():
    with pytest.raises(TracerConversionError, match=r"pnp\.arange: its length depends on a traced value "
                                                     r"\(stop: i64\[\]\).*static_argnums"):
        pdx.jit(lambda n: pnp.arange(n))(4)
    _same(pdx.jit(lambda n: pnp.arange(n), static_argnums=0)(4), np.arange(4))
    # the differentiable spelling of arange with a traced step
    assert pdx.grad(lambda t: pnp.sum(t * pnp.arange(4)))(0.5) == 6.0


def test_no_recursion_error_anywhere():
    """Every constructor, with a traced argument in every position, under grad, jit and
    vmap: a value or a TracerConversionError/ValueError, never a RecursionError."""
    calls = [lambda t: pnp.linspace(t, t + 1, 3), lambda t: pnp.logspace(t, 1.0, 3), lambda t: pnp.full(2, t),
             lambda t: pnp.full_like(np.ones(2), t), lambda t: pnp.geomspace(1.0, t + 2, 3),
             lambda t: pnp.meshgrid(t, t)[0]] + list(SHAPE_CALLS.values()) + [
        lambda t: pnp.arange(t), lambda t: pnp.zeros_like(t), lambda t: pnp.ones_like(t),
        lambda t: pnp.empty_like(t), lambda t: np.linspace(t, 1.0, 3), lambda t: np.full_like(t, 2.0)]
    for f in calls:
        for run in (lambda f: pdx.grad(lambda t: pnp.sum(f(t) * 1.0))(2.0), lambda f: pdx.jit(f)(2.0),
                    lambda f: pdx.vmap(f)(np.array([2.0, 3.0]))):
            try:
                run(f)
            except (TracerConversionError, ValueError):
                pass
