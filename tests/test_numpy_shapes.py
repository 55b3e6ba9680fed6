"""Shape and rearrangement functions of partiald.numpy (tril ... select): NumPy's values,
gradients equal to central finite differences (the maps are linear or bilinear, so the
differences are exact up to rounding), and the same results under jit and vmap."""
import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald import TracerConversionError

RNG = np.random.default_rng(0)


def _r(*shape):
    return RNG.standard_normal(shape)


A34 = _r(3, 4)
A43 = _r(4, 3)
A234 = _r(2, 3, 4)
V5 = _r(5)
E0 = np.zeros((0,))
E03 = np.zeros((0, 3))
I34 = np.arange(12).reshape(3, 4)
COND = A34 > 0

#: (id, pnp call, NumPy call, arguments): the calls take the same arguments
CASES = [
    ("tril", lambda m: pnp.tril(m), np.tril, (A34,)),
    ("tril-k1", lambda m: pnp.tril(m, 1), lambda m: np.tril(m, 1), (A34,)),
    ("tril-k-2-stack", lambda m: pnp.tril(m, -2), lambda m: np.tril(m, -2), (A234,)),
    ("tril-1d", lambda m: pnp.tril(m), np.tril, (V5,)),
    ("tril-int", lambda m: pnp.tril(m, 1), lambda m: np.tril(m, 1), (I34,)),
    ("tril-empty", lambda m: pnp.tril(m), np.tril, (E03,)),
    ("triu", lambda m: pnp.triu(m), np.triu, (A34,)),
    ("triu-k-1", lambda m: pnp.triu(m, -1), lambda m: np.triu(m, -1), (A43,)),
    ("triu-k2-stack", lambda m: pnp.triu(m, 2), lambda m: np.triu(m, 2), (A234,)),
    ("repeat-flat", lambda a: pnp.repeat(a, 2), lambda a: np.repeat(a, 2), (A34,)),
    ("repeat-axis", lambda a: pnp.repeat(a, [1, 0, 3], axis=0), lambda a: np.repeat(a, [1, 0, 3], axis=0), (A34,)),
    ("repeat-neg-axis", lambda a: pnp.repeat(a, 3, axis=-1), lambda a: np.repeat(a, 3, axis=-1), (A234,)),
    ("repeat-int", lambda a: pnp.repeat(a, [2, 1, 1, 0], axis=1), lambda a: np.repeat(a, [2, 1, 1, 0], axis=1),
     (I34,)),
    ("repeat-empty", lambda a: pnp.repeat(a, 2, axis=0), lambda a: np.repeat(a, 2, axis=0), (E03,)),
    ("roll-flat", lambda a: pnp.roll(a, 5), lambda a: np.roll(a, 5), (A34,)),
    ("roll-axis", lambda a: pnp.roll(a, -1, axis=1), lambda a: np.roll(a, -1, axis=1), (A34,)),
    ("roll-axes", lambda a: pnp.roll(a, (1, 7), axis=(0, -1)), lambda a: np.roll(a, (1, 7), axis=(0, -1)),
     (A234,)),
    ("roll-empty", lambda a: pnp.roll(a, 2, axis=0), lambda a: np.roll(a, 2, axis=0), (E03,)),
    ("diag-1d", lambda v: pnp.diag(v), np.diag, (V5,)),
    ("diag-1d-k2", lambda v: pnp.diag(v, 2), lambda v: np.diag(v, 2), (V5,)),
    ("diag-1d-k-1", lambda v: pnp.diag(v, -1), lambda v: np.diag(v, -1), (V5,)),
    ("diag-2d", lambda m: pnp.diag(m), np.diag, (A34,)),
    ("diag-2d-k1", lambda m: pnp.diag(m, 1), lambda m: np.diag(m, 1), (A34,)),
    ("diag-2d-k-5", lambda m: pnp.diag(m, -5), lambda m: np.diag(m, -5), (A34,)),
    ("diag-empty", lambda v: pnp.diag(v), np.diag, (E0,)),
    ("diagonal", lambda a: pnp.diagonal(a), np.diagonal, (A34,)),
    ("diagonal-offset", lambda a: pnp.diagonal(a, 1), lambda a: np.diagonal(a, 1), (A43,)),
    ("diagonal-axes", lambda a: pnp.diagonal(a, -1, 2, 0), lambda a: np.diagonal(a, -1, 2, 0), (A234,)),
    ("diagonal-neg-axes", lambda a: pnp.diagonal(a, 0, -1, -2), lambda a: np.diagonal(a, 0, -1, -2), (A234,)),
    ("diagonal-int", lambda a: pnp.diagonal(a, 2), lambda a: np.diagonal(a, 2), (I34,)),
    ("diagonal-empty", lambda a: pnp.diagonal(a), np.diagonal, (E03,)),
    ("trace", lambda a: pnp.trace(a), np.trace, (A34,)),
    ("trace-offset", lambda a: pnp.trace(a, -1), lambda a: np.trace(a, -1), (A43,)),
    ("trace-axes", lambda a: pnp.trace(a, 1, 1, 2), lambda a: np.trace(a, 1, 1, 2), (A234,)),
    ("trace-int", lambda a: pnp.trace(a), np.trace, (I34,)),
    ("flip-all", lambda m: pnp.flip(m), np.flip, (A234,)),
    ("flip-axis", lambda m: pnp.flip(m, -1), lambda m: np.flip(m, -1), (A234,)),
    ("flip-axes", lambda m: pnp.flip(m, (0, 2)), lambda m: np.flip(m, (0, 2)), (A234,)),
    ("flipud", lambda m: pnp.flipud(m), np.flipud, (A34,)),
    ("fliplr", lambda m: pnp.fliplr(m), np.fliplr, (A234,)),
    ("rot90", lambda m: pnp.rot90(m), np.rot90, (A34,)),
    ("rot90-k2", lambda m: pnp.rot90(m, 2), lambda m: np.rot90(m, 2), (A34,)),
    ("rot90-k-1-axes", lambda m: pnp.rot90(m, -1, (2, 0)), lambda m: np.rot90(m, -1, (2, 0)), (A234,)),
    ("rot90-k3-negaxes", lambda m: pnp.rot90(m, 3, (-1, -2)), lambda m: np.rot90(m, 3, (-1, -2)), (A234,)),
    ("split", lambda a: pnp.split(a, 2, axis=1), lambda a: np.split(a, 2, axis=1), (A34,)),
    ("split-indices", lambda a: pnp.split(a, [1, 3, 10], axis=-1), lambda a: np.split(a, [1, 3, 10], axis=-1),
     (A234,)),
    ("array_split", lambda a: pnp.array_split(a, 3), lambda a: np.array_split(a, 3), (V5,)),
    ("array_split-axis", lambda a: pnp.array_split(a, 3, axis=1), lambda a: np.array_split(a, 3, axis=1),
     (A34,)),
    ("array_split-empty", lambda a: pnp.array_split(a, 2), lambda a: np.array_split(a, 2), (E03,)),
    ("vsplit", lambda a: pnp.vsplit(a, [1]), lambda a: np.vsplit(a, [1]), (A34,)),
    ("hsplit", lambda a: pnp.hsplit(a, 2), lambda a: np.hsplit(a, 2), (A34,)),
    ("hsplit-1d", lambda a: pnp.hsplit(a, [2]), lambda a: np.hsplit(a, [2]), (V5,)),
    ("dsplit", lambda a: pnp.dsplit(a, 2), lambda a: np.dsplit(a, 2), (A234,)),
    ("append-flat", lambda a, b: pnp.append(a, b), lambda a, b: np.append(a, b), (A34, V5)),
    ("append-axis", lambda a, b: pnp.append(a, b, axis=0), lambda a, b: np.append(a, b, axis=0), (A34, A34)),
    ("append-negaxis", lambda a, b: pnp.append(a, b, axis=-1), lambda a, b: np.append(a, b, axis=-1),
     (A43, A43)),
    ("append-empty", lambda a, b: pnp.append(a, b), lambda a, b: np.append(a, b), (E0, V5)),
    ("column_stack", lambda a, b: pnp.column_stack([a, b]), lambda a, b: np.column_stack([a, b]), (V5, V5)),
    ("column_stack-2d", lambda a, b: pnp.column_stack((a, b)), lambda a, b: np.column_stack((a, b)),
     (A43, A43[:, 0])),
    ("atleast_1d", lambda a: pnp.atleast_1d(a), np.atleast_1d, (np.float64(2.5),)),
    ("atleast_1d-many", lambda a, b: pnp.atleast_1d(a, b), lambda a, b: np.atleast_1d(a, b),
     (np.float64(2.5), A34)),
    ("atleast_2d", lambda a: pnp.atleast_2d(a), np.atleast_2d, (V5,)),
    ("atleast_2d-many", lambda a, b: pnp.atleast_2d(a, b), lambda a, b: np.atleast_2d(a, b),
     (np.float64(2.5), A234)),
    ("atleast_3d-1d", lambda a: pnp.atleast_3d(a), np.atleast_3d, (V5,)),
    ("atleast_3d-many", lambda a, b, c: pnp.atleast_3d(a, b, c), lambda a, b, c: np.atleast_3d(a, b, c),
     (np.float64(2.5), A34, A234)),
    ("moveaxis", lambda a: pnp.moveaxis(a, 0, -1), lambda a: np.moveaxis(a, 0, -1), (A234,)),
    ("moveaxis-many", lambda a: pnp.moveaxis(a, [0, -1], [-1, 1]), lambda a: np.moveaxis(a, [0, -1], [-1, 1]),
     (A234,)),
    ("rollaxis", lambda a: pnp.rollaxis(a, 2), lambda a: np.rollaxis(a, 2), (A234,)),
    ("rollaxis-start", lambda a: pnp.rollaxis(a, 0, 3), lambda a: np.rollaxis(a, 0, 3), (A234,)),
    ("rollaxis-neg", lambda a: pnp.rollaxis(a, -1, -2), lambda a: np.rollaxis(a, -1, -2), (A234,)),
    ("tile", lambda a: pnp.tile(a, 2), lambda a: np.tile(a, 2), (V5,)),
    ("tile-2d", lambda a: pnp.tile(a, (2, 1, 3)), lambda a: np.tile(a, (2, 1, 3)), (A34,)),
    ("tile-short-reps", lambda a: pnp.tile(a, (2, 2)), lambda a: np.tile(a, (2, 2)), (A234,)),
    ("tile-int-zero", lambda a: pnp.tile(a, (0, 2)), lambda a: np.tile(a, (0, 2)), (I34,)),
    ("kron", lambda a, b: pnp.kron(a, b), np.kron, (A34[:2, :3], A43[:3, :2])),
    ("kron-1d-2d", lambda a, b: pnp.kron(a, b), np.kron, (V5[:3], A34[:2])),
    ("kron-int", lambda a, b: pnp.kron(a, b), np.kron, (I34[:2], I34[:, :2])),
    ("diff", lambda a: pnp.diff(a), np.diff, (V5,)),
    ("diff-n2-axis0", lambda a: pnp.diff(a, 2, axis=0), lambda a: np.diff(a, 2, axis=0), (A43,)),
    ("diff-n3-neg", lambda a: pnp.diff(a, 3, axis=-1), lambda a: np.diff(a, 3, axis=-1), (A234,)),
    ("diff-n0", lambda a: pnp.diff(a, 0), lambda a: np.diff(a, 0), (V5,)),
    ("diff-prepend", lambda a: pnp.diff(a, prepend=0.5, append=A34[:, :2]),
     lambda a: np.diff(a, prepend=0.5, append=A34[:, :2]), (A34,)),
    ("diff-int", lambda a: pnp.diff(a, axis=0), lambda a: np.diff(a, axis=0), (I34,)),
    ("diff-empty", lambda a: pnp.diff(a, axis=0), lambda a: np.diff(a, axis=0), (E03,)),
    ("cross", lambda a, b: pnp.cross(a, b), np.cross, (_r(3), _r(3))),
    ("cross-broadcast", lambda a, b: pnp.cross(a, b), np.cross, (_r(4, 3), _r(3))),
    ("cross-axes", lambda a, b: pnp.cross(a, b, axisa=0, axisc=0), lambda a, b: np.cross(a, b, axisa=0, axisc=0),
     (_r(3, 2), _r(2, 3))),
    ("pad", lambda a: pnp.pad(a, 1), lambda a: np.pad(a, 1), (A34,)),
    ("pad-pairs", lambda a: pnp.pad(a, ((0, 2), (1, 3)), constant_values=((1, 2), (3, 4))),
     lambda a: np.pad(a, ((0, 2), (1, 3)), constant_values=((1, 2), (3, 4))), (A34,)),
    ("pad-3d", lambda a: pnp.pad(a, (1, 2), "constant", constant_values=-1.5),
     lambda a: np.pad(a, (1, 2), "constant", constant_values=-1.5), (A234,)),
    ("pad-int", lambda a: pnp.pad(a, [(2, 0), (0, 1)], constant_values=7),
     lambda a: np.pad(a, [(2, 0), (0, 1)], constant_values=7), (I34,)),
    ("pad-empty", lambda a: pnp.pad(a, 1), lambda a: np.pad(a, 1), (E03,)),
    ("select", lambda a, b: pnp.select([COND, a < 0.5], [a, b], default=-1.0),
     lambda a, b: np.select([COND, a < 0.5], [a, b], default=-1.0), (A34, A34[0])),
    ("select-default", lambda a: pnp.select([a > 1, a < -1], [a, 2 * a]),
     lambda a: np.select([a > 1, a < -1], [a, 2 * a]), (A234,)),
]
IDS = [c[0] for c in CASES]


def _parts(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _check(actual, expected):
    actual, expected = _parts(actual), _parts(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        a, e = np.asarray(a), np.asarray(e)
        assert a.shape == e.shape, (a.shape, e.shape)
        assert a.dtype == e.dtype, (a.dtype, e.dtype)
        np.testing.assert_allclose(a, e, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("name,f,ref,args", CASES, ids=IDS)
def test_values_match_numpy(name, f, ref, args):
    _check(f(*args), ref(*args))


@pytest.mark.parametrize("name,f,ref,args", CASES, ids=IDS)
def test_values_under_jit(name, f, ref, args):
    _check(pdx.jit(f)(*args), ref(*args))


@pytest.mark.parametrize("name,f,ref,args", CASES, ids=IDS)
def test_values_under_vmap(name, f, ref, args):
    batch = [np.stack([a, 2 * a - 1, -a]) for a in args]
    out = pdx.vmap(f)(*batch)
    refs = [ref(*[b[i] for b in batch]) for i in range(3)]
    expected = [np.stack([_parts(r)[j] for r in refs]) for j in range(len(_parts(refs[0])))]
    _check(_parts(out), expected)


FLOAT_CASES = [c for c in CASES if all(np.asarray(a).dtype == np.float64 for a in c[3])]


@pytest.mark.parametrize("name,f,ref,args", FLOAT_CASES, ids=[c[0] for c in FLOAT_CASES])
def test_gradient_matches_finite_differences(name, f, ref, args):
    weights = [RNG.standard_normal(np.shape(o)) for o in _parts(ref(*args))]

    def loss(*xs):
        return sum(pnp.sum(o * w) for o, w in zip(_parts(f(*xs)), weights))

    def loss_np(*xs):
        return sum(np.sum(o * w) for o, w in zip(_parts(ref(*xs)), weights))

    args = [np.asarray(a) for a in args]
    for i in range(len(args)):
        g = pdx.grad(loss, argnums=i)(*args)
        assert np.shape(g) == args[i].shape
        fd = np.zeros(args[i].shape)
        eps = 1e-3
        for j in np.ndindex(args[i].shape):
            plus = [a.copy() for a in args]
            minus = [a.copy() for a in args]
            plus[i][j] += eps
            minus[i][j] -= eps
            fd[j] = (loss_np(*plus) - loss_np(*minus)) / (2 * eps)
        np.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-9)


NONEMPTY = [c for c in FLOAT_CASES if np.size(c[3][0])][::3]


@pytest.mark.parametrize("name,f,ref,args", NONEMPTY, ids=[c[0] for c in NONEMPTY])
def test_vjp_is_transpose_of_jacfwd(name, f, ref, args):
    """A linear map's reverse mode is the exact transpose of its forward Jacobian."""
    x = np.asarray(args[0])
    rest = args[1:]

    def g(x):
        return pnp.concatenate([pnp.ravel(o) for o in _parts(f(x, *rest))])

    J = np.asarray(pdx.jacfwd(g)(x)).reshape(-1, x.size)
    ct = RNG.standard_normal(J.shape[0])
    _, back = pdx.vjp(g, x)
    np.testing.assert_allclose(np.asarray(back(ct)[0]).ravel(), ct @ J, rtol=1e-12, atol=1e-12)


def test_constant_values_of_pad_are_differentiable():
    def f(c):
        return pnp.sum(pnp.pad(A34, ((1, 0), (0, 2)), constant_values=c))
    assert np.isclose(pdx.grad(f)(0.5), 4 * 6 - 3 * 4)


def test_select_with_traced_conditions():
    def f(x):
        return pnp.sum(pnp.select([x > 0, x < -1], [x ** 2, -x], default=3.0))
    g = pdx.grad(f)(V5)
    np.testing.assert_allclose(g, np.select([V5 > 0, V5 < -1], [2 * V5, -np.ones(5)], 0.0))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: pnp.repeat(A34, 1.5), TypeError, "repeats must be integers"),
    (lambda: pnp.repeat(A34, -1), ValueError, "negative"),
    (lambda: pnp.repeat(A34, [1, 2], axis=0), ValueError, "repeats of shape"),
    (lambda: pnp.repeat(A34, 2, axis=2), np.exceptions.AxisError, "axis 2 is out of bounds"),
    (lambda: pnp.roll(A34, 1, axis=-3), np.exceptions.AxisError, "out of bounds"),
    (lambda: pnp.roll(A34, 1.5), TypeError, "shift must be integers"),
    (lambda: pnp.roll(A34, (1, 2, 3), axis=(0, 1)), ValueError, "same length"),
    (lambda: pnp.diag(A234), ValueError, "1-d or 2-d"),
    (lambda: pnp.diagonal(V5), ValueError, "at least two dimensions"),
    (lambda: pnp.diagonal(A34, 0, 1, -1), ValueError, "cannot be the same"),
    (lambda: pnp.trace(A34, 0, 0, 2), np.exceptions.AxisError, "out of bounds"),
    (lambda: pnp.flip(A34, 2), np.exceptions.AxisError, "out of bounds"),
    (lambda: pnp.flipud(np.float64(1.0)), ValueError, ">= 1-d"),
    (lambda: pnp.fliplr(V5), ValueError, ">= 2-d"),
    (lambda: pnp.rot90(A34, 1, (0, 0)), ValueError, "must be different"),
    (lambda: pnp.rot90(A34, 1, (0, 3)), ValueError, "out of range"),
    (lambda: pnp.rot90(A34, 1, (0,)), ValueError, "len\\(axes\\) must be 2"),
    (lambda: pnp.split(A34, 3, axis=1), ValueError, "equal division"),
    (lambda: pnp.array_split(A34, 0), ValueError, "larger than 0"),
    (lambda: pnp.vsplit(V5, 2), ValueError, "2 or more dimensions"),
    (lambda: pnp.dsplit(A34, 2), ValueError, "3 or more dimensions"),
    (lambda: pnp.append(A34, V5, axis=0), ValueError, "same number of dimensions"),
    (lambda: pnp.moveaxis(A234, [0, 1], [0]), ValueError, "same number of elements"),
    (lambda: pnp.moveaxis(A234, 3, 0), np.exceptions.AxisError, "out of bounds"),
    (lambda: pnp.rollaxis(A234, 0, 5), np.exceptions.AxisError, "'start' arg requires"),
    (lambda: pnp.tile(A34, 1.5), TypeError, "reps must be integers"),
    (lambda: pnp.tile(A34, -1), ValueError, "negative"),
    (lambda: pnp.diff(V5, -1), ValueError, "order must be non-negative"),
    (lambda: pnp.diff(np.float64(1.0)), ValueError, "at least one dimensional"),
    (lambda: pnp.diff(A34, axis=2), np.exceptions.AxisError, "out of bounds"),
    (lambda: pnp.cross(_r(4), _r(3)), ValueError, "length 2 or 3"),
    (lambda: pnp.pad(A34, 1, mode="median"), NotImplementedError, "mode 'median' is not supported"),
    (lambda: pnp.pad(A34, 1, mode="bogus"), ValueError, "mode 'bogus' is not supported"),
    (lambda: pnp.pad(A34, -1), ValueError, "negative"),
    (lambda: pnp.pad(A34, 1.5), TypeError, "pad_width must be integers"),
    (lambda: pnp.pad(A34, [(1, 2, 3)]), ValueError, "cannot be broadcast"),
    (lambda: pnp.select([COND], [A34, A34]), ValueError, "same length"),
    (lambda: pnp.select([], []), ValueError, "empty condition list"),
    (lambda: pnp.select([A34], [A34]), TypeError, "invalid entry 0 in condlist"),
    (lambda: pnp.tril(np.float64(1.0)), ValueError, "at least 1-d"),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_bad_input_raises_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_traced_counts_without_a_value_raise_under_jit():
    with pytest.raises(TracerConversionError, match="repeats"):
        pdx.jit(lambda x, r: pnp.repeat(x, r))(V5, np.int64(2))
    with pytest.raises(TracerConversionError, match="shift"):
        pdx.jit(lambda x, s: pnp.roll(x, s))(V5, np.int64(2))


@pytest.mark.parametrize("call", [
    lambda m: m.diff(np.array([[True, False, True], [False, False, True]]), axis=-1),
    lambda m: m.trace(np.array([[True, False], [False, True]])),
    lambda m: m.tril(np.array([[True, True], [True, True]])),
    lambda m: m.select([np.array([True, False])], [np.float32([1, 2])]),
    lambda m: m.select([np.array([True, False])], [np.int32([1, 2])], default=1.5),
    lambda m: m.pad(np.float32([1, 2]), 1, constant_values=2.5),
    lambda m: m.pad(np.arange(3), 1, constant_values=2.7),
    lambda m: m.kron(np.float32([1, 2]), np.arange(3)),
    lambda m: m.append(np.arange(3), np.float32([1.5])),
    lambda m: m.repeat(3.0, 2),
    lambda m: m.tile(np.float64(2), (2, 3)),
], ids=["diff-bool", "trace-bool", "tril-bool", "select-weak-default", "select-float-default", "pad-f32",
        "pad-int", "kron-mixed", "append-mixed", "repeat-scalar", "tile-0d"])
def test_dtypes_follow_numpy(call):
    _check(call(pnp), call(np))
