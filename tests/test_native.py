"""Fused loops (compile/native.py, compiled by numba): bitwise the NumPy code's
results, on every value class, dtype, layout and offset pattern; one compiled loop
for every size and constant. The disk cache's safety and the fallbacks without
numba: tests/test_native_cache.py."""
import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald.compile import native, tiling

pytestmark = pytest.mark.skipif(not native.available(), reason=f"no fused loops: {native.error()}")


def _numpy_jit(f, *args, monkeypatch):
    with monkeypatch.context() as m:
        m.setenv("PARTIALD_NATIVE", "0")
        return pdx.jit(f)(*args)


def _native_jit(f, *args):
    with native.forced():
        g = pdx.jit(f)
        _, source = g.lower(*args)
        assert "# native:" in source, source
        return g(*args)


def _same(got, want):
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324,
                    1e308, -1e308, 2.0 ** -1022, 7.0, -7.0, 0.1])


def _grid():
    a, b = np.meshgrid(SPECIAL, SPECIAL)
    return a.ravel().copy(), b.ravel().copy()


BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "maximum": pnp.maximum, "minimum": pnp.minimum,
    "where_lt": lambda a, b: pnp.where(a < b, a, b), "where_ge_const": lambda a, b: pnp.where(a >= 0.5, b, 2.0),
    "eq_ne": lambda a, b: pnp.where((a == b) | (a != 0.1), a * 2.0, b - 1.0),
    "logic": lambda a, b: pnp.where(pnp.logical_xor(a > 0, b > 0) & ~pnp.isfinite(a * b), 1.0, a),
    "sign_abs": lambda a, b: pnp.sign(a) * pnp.abs(b) + pnp.floor(a),
    "sqrt_square": lambda a, b: pnp.sqrt(a) + b ** 2 - (-a),
    "cast": lambda a, b: (a * b).astype(np.float32).astype(np.float64) + (a > b).astype(np.float64),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_fused_ops_equal_numpy_on_special_values(name, dtype, monkeypatch):
    with np.errstate(over="ignore"):
        a, b = (v.astype(dtype) for v in _grid())
    f = BINARY[name]

    def g(a, b):
        return f(a, b) * 1.5
    with np.errstate(all="ignore"):
        got, want = _native_jit(g, a, b), _numpy_jit(g, a, b, monkeypatch=monkeypatch)
    _same(got, want)
    zero = np.asarray(want) == 0
    np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]))      # signed zeros too


def test_safe_mul_keeps_zero_times_inf_at_zero(monkeypatch):
    """The gradient of where(x > 0, sqrt(x), 0) at 0 and below: the masked branch's inf
    and NaN derivatives meet a zero cotangent (safe_mul), as in the NumPy code."""
    x = np.concatenate([SPECIAL, -SPECIAL])

    def f(x):
        return pnp.sum(pnp.where(x > 0, pnp.sqrt(x), 0.0) * x)
    with np.errstate(all="ignore"):
        got = _native_jit(pdx.grad(f), x)
        _same(got, _numpy_jit(pdx.grad(f), x, monkeypatch=monkeypatch))
        _same(got, pdx.grad(f)(x))


def rosen(x):
    return pnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def chained(x):
    """Three offsets, kept values and a value/gradient pair."""
    t = x[2:] * x[1:-1] - x[:-2]
    return pnp.sum(t * t) + pnp.sum(pnp.where(x > 0.25, x, -0.5 * x) ** 2)


def stencil2d(x):
    d = x[1:, :] - x[:-1, :] ** 2
    return pnp.sum(d * d + 0.5 * (1.0 - x[:-1, :]) ** 2)


@pytest.mark.parametrize("f, shape", [(rosen, (1000,)), (chained, (517,)), (stencil2d, (37, 5)), (rosen, (2,))],
                         ids=["rosen", "chained", "stencil2d", "rosen-2"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_shifted_slice_gradients_equal_numpy_bitwise(f, shape, dtype, monkeypatch):
    x = np.random.default_rng(1).uniform(-1.5, 1.5, shape).astype(dtype)
    vg = pdx.value_and_grad(f)
    got = _native_jit(vg, x)
    _same(got, _numpy_jit(vg, x, monkeypatch=monkeypatch))
    assert got[1].dtype == dtype


@pytest.mark.parametrize("dtype, eps", [(np.float64, 2.0 ** -30), (np.float32, 2.0 ** -12)])
def test_no_fused_multiply_add(dtype, eps, monkeypatch):
    """``x * x - y`` where a fused multiply-add would keep the product's low bits:
    (1 + e)^2 - (1 + 2e) is e^2 exactly, 0 after rounding the product."""
    x = np.full(64, 1 + eps, dtype)
    y = np.full(64, 1 + 2 * eps, dtype)

    def f(x, y):
        return (x * x - y) * 2.0
    got = _native_jit(f, x, y)
    assert np.all(got == 0)
    _same(got, _numpy_jit(f, x, y, monkeypatch=monkeypatch))

def test_inputs_of_any_layout_and_scalar_operands(monkeypatch):
    base = np.random.default_rng(3).uniform(-1, 1, (40, 6))
    x = base[::2, ::3]                                   # not contiguous
    s = np.array([0.75])                                 # a size-1 array: read once
    c = np.float32(2.5)

    def f(x, s):
        y = (x * s - c) * (x + s[0])
        return y, pnp.sum(y * y)
    got = _native_jit(f, x, s)
    _same(got, _numpy_jit(f, x, s, monkeypatch=monkeypatch))
    assert np.array_equal(x, base[::2, ::3]) and not np.shares_memory(got[0], x)


def test_outputs_never_alias_inputs():
    x = np.random.default_rng(4).uniform(-1, 1, 300)

    def f(x):
        return x[1:], x * 2.0 + 1.0, (x * 3.0) - x
    outs = _native_jit(f, x)
    for o in outs:
        assert not np.shares_memory(o, x)
    _same(outs, f(x))


def test_unsupported_operations_stay_numpy_code():
    x = np.linspace(-1, 1, 1 << 17)
    with native.forced():
        _, source = pdx.jit(lambda x: pnp.exp(x) * x + 1.0).lower(x)
    assert "# native:" not in source


def test_large_gradients_are_native_by_default():
    x = np.random.default_rng(8).uniform(-1, 1, native.NATIVE_MIN * 2)
    _, source = pdx.jit(pdx.grad(rosen)).lower(x)
    assert "# native:" in source
    np.testing.assert_array_equal(pdx.jit(pdx.grad(rosen))(x), pdx.grad(rosen)(x))


@pytest.mark.parametrize("shape, operands", [
    ((40, 30), [(30,), (1, 30), (40, 1)]),                 # bias rows and a column
    ((6, 5, 4), [(5, 4), (6, 1, 1)]),                      # split after the first axis
    ((6, 5, 4), [(4,), (6, 5, 1)]),                        # split after the second
    ((6, 5, 4), [(1, 1, 4), ()]),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_broadcast_operands_are_read_by_row_or_column(shape, operands, dtype, monkeypatch):
    rng = np.random.default_rng(12)
    H = rng.normal(size=shape).astype(dtype)
    ops = [rng.normal(size=s).astype(dtype) for s in operands]

    def f(H, *ops):
        y = H
        for i, o in enumerate(ops):
            y = pnp.maximum(y * o, -0.5) if i % 2 else y - o * 0.25
        return pnp.where(y > 0.1, y, y * 0.5)
    got = _native_jit(f, H, *ops)
    _same(got, _numpy_jit(f, H, *ops, monkeypatch=monkeypatch))


def test_broadcasts_no_one_split_serves_stay_numpy_code(monkeypatch):
    rng = np.random.default_rng(13)
    H, a = rng.normal(size=(6, 5, 4)), rng.normal(size=(5, 1))

    def f(H, a):
        return (H * a + 1.0) * 0.5
    with native.forced():
        _, source = pdx.jit(f).lower(H, a)
        got = pdx.jit(f)(H, a)
    assert "# native:" not in source
    _same(got, _numpy_jit(f, H, a, monkeypatch=monkeypatch))


def test_the_fused_shape_is_the_commonest_large_one(monkeypatch):
    """Many small values sharing the leading axis do not outvote the large ones."""
    rng = np.random.default_rng(15)
    H, s = rng.normal(size=(300, 300)), rng.normal(size=(300, 2))

    def f(H, s):
        small = (((s * 2.0 + 1.0) * s - 3.0) * s + 0.5) * s
        return (H * 2.0 - 1.0) * H, small
    _, source = pdx.jit(f).lower(H, s)
    assert "# native:" in source
    _same(pdx.jit(f)(H, s), _numpy_jit(f, H, s, monkeypatch=monkeypatch))


def test_generated_loop_holds_no_user_text_and_no_numbers():
    x = np.random.default_rng(9).uniform(-1, 1, 100)

    def evil_name_in_closure(x):
        return pnp.sum((x * 0.1 - 3.0) ** 2)
    with native.forced():
        _, source = pdx.jit(pdx.grad(evil_name_in_closure)).lower(x)
    loop = source.split("# native:")[1].split("# post:")[0]
    assert "evil" not in loop and "0.1" not in loop and "3.0" not in loop and "100" not in loop
    assert "def kernel(" in loop and "fastmath" not in loop


def _loop_source(f, *args):
    with native.forced():
        _, source = pdx.jit(f).lower(*args)
    return source.split("# native:")[1].split("# post:")[0]


def test_one_loop_serves_every_size_and_constant(monkeypatch):
    """Sizes and constants are arguments: the same loop source (so the same compiled
    loop) for every size and constant, and results still bitwise the NumPy code's."""
    def make(c):
        return pdx.grad(lambda x: pnp.sum(c * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))
    rng = np.random.default_rng(16)
    sources = set()
    for n, c in [(3, 100.0), (50, 3.0), (1001, -2.0), (4096, 7.25)]:
        x = rng.uniform(-1.5, 1.5, n)
        sources.add(_loop_source(make(c), x))
        _same(_native_jit(make(c), x), _numpy_jit(make(c), x, monkeypatch=monkeypatch))
    assert len(sources) == 1


def test_tiled_numpy_code_is_still_used_when_forced():
    """tiling.forced() tests the NumPy tiles, whatever the fused loops do."""
    x = np.random.default_rng(7).uniform(-1, 1, 23)
    with tiling.forced(2):
        _, source = pdx.jit(pdx.grad(rosen)).lower(x)
    assert "# tile:" in source and "# native:" not in source


def test_offsets_further_apart_than_the_length_stay_numpy_code(monkeypatch):
    """x[3:] and x[:-3] of a 5-element x: the boundary loops would overlap."""
    x = np.random.default_rng(17).uniform(-1, 1, 5)

    def f(x):
        return pnp.sum((x[3:] - 0.5 * x[:-3]) ** 2)
    with native.forced():
        _, source = pdx.jit(pdx.grad(f)).lower(x)
        got = pdx.jit(pdx.grad(f))(x)
    assert "# native:" not in source
    _same(got, _numpy_jit(pdx.grad(f), x, monkeypatch=monkeypatch))


@pytest.mark.parametrize("shape, operands", [((40, 30), [(30,), (40, 1)])])
def test_bool_and_float32_scalar_operands(shape, operands, monkeypatch):
    rng = np.random.default_rng(18)
    H = rng.normal(size=shape).astype(np.float32)
    s = np.array([[0.25]], np.float32)
    m = rng.normal(size=shape) > 0

    def f(H, s, m):
        return pnp.where(m & (H > s), H * s, -H), (H * s + 1.0) > 0.5
    _same(_native_jit(f, H, s, m), _numpy_jit(f, H, s, m, monkeypatch=monkeypatch))


@pytest.mark.parametrize("f", [rosen, chained, stencil2d], ids=lambda f: f.__name__)
def test_a_loop_split_over_threads_gives_the_same_bits(f, monkeypatch):
    """A long loop runs one share per thread (each writes only its own elements): any
    split, uneven ones included, gives the bits of one thread and of the NumPy code."""
    shape = (301, 1000) if f is stencil2d else (300_001,)
    x = np.random.default_rng(5).uniform(-1.5, 1.5, shape)
    want = _numpy_jit(pdx.grad(f), x, monkeypatch=monkeypatch)
    for n in ("1", "2", "3", "7"):
        monkeypatch.setenv("PARTIALD_NUM_THREADS", n)
        _same(_native_jit(pdx.grad(f), x), want)


def test_a_malformed_thread_count_warns_and_uses_the_cores(monkeypatch):
    monkeypatch.setenv("PARTIALD_NUM_THREADS", "two")
    monkeypatch.setattr(native, "_warned", set())
    with pytest.warns(RuntimeWarning, match="PARTIALD_NUM_THREADS='two' is not a positive integer"):
        assert native.threads() >= 1
