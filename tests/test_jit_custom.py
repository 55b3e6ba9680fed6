"""jit, simplification, custom_jvp / custom_vjp, checkpoint and debug_nans."""
import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald import nn
from partiald.transforms.simplify import simplify

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 5))
Y = rng.normal(size=40)
W = rng.normal(size=5)


def mse(w, X, y):
    return pnp.mean((X @ w - y) ** 2)


def logistic(w, X, y):
    z = X @ w
    return pnp.mean(nn.softplus(z) - (y > 0) * z)


def rosen(x):
    return pnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


FUNCS = [
    ("mse", mse, (W, X, Y)),
    ("logistic", logistic, (W, X, Y)),
    ("rosen", rosen, (np.linspace(-1, 1.5, 7),)),
    ("mixed", lambda x, y: pnp.sum(pnp.tanh(x) * pnp.exp(-y ** 2)) / (1 + pnp.sum(x ** 2)), (W, W[::-1].copy())),
]


@pytest.mark.parametrize("name, f, args", FUNCS, ids=[f[0] for f in FUNCS])
def test_jit_matches_eager(name, f, args):
    assert np.allclose(pdx.jit(f)(*args), f(*args), rtol=1e-13, atol=0)
    g_eager = pdx.grad(f)(*args)
    np.testing.assert_allclose(pdx.jit(pdx.grad(f))(*args), g_eager, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(pdx.grad(pdx.jit(f))(*args), g_eager, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(pdx.jit(pdx.hessian(f))(*args), pdx.hessian(f)(*args), rtol=1e-12, atol=1e-13)


def test_jit_caches_per_signature():
    f = pdx.jit(lambda x: pnp.sum(x ** 2))
    f(np.ones(3))
    f(np.zeros(3))
    assert f.cache_size() == 1
    f(np.ones(4))
    f(np.ones(3, np.float32))
    assert f.cache_size() == 3
    assert f(np.ones(3, np.float32)).dtype == np.float32


def test_jit_static_argnums_and_pytrees():
    f = pdx.jit(lambda p, n: pnp.sum(p["w"] ** n) + p["b"], static_argnums=1)
    p = {"w": np.arange(3.0), "b": 1.0}
    assert f(p, 2) == 6.0 and f(p, 3) == 10.0
    assert f.cache_size() == 2


def test_jit_runs_generated_code_without_user_names():
    graph, source = pdx.jit(lambda secret_name: pnp.sin(secret_name) * 2.0).lower(np.ones(2))
    assert "secret_name" not in source
    assert "_np.sin" in source


def test_jit_value_dependent_control_flow_names_where():
    with pytest.raises(TypeError, match=r"pnp\.where"):
        pdx.jit(lambda x: x if x > 0 else -x)(1.0)


def test_simplify_preserves_values_and_removes_dead_code():
    def f(x, y):
        dead = pnp.exp(x) * 3.0           # noqa: F841  (unused on purpose)
        a = pnp.sin(x) * 1.0 + 0.0
        b = pnp.sin(x) * y                # same sin(x): one equation after CSE
        return a + b + (2.0 * 3.0)
    g = pdx.make_graph(f)(W, 0.5)
    s = simplify(g)
    assert len(s.eqns) < len(g.eqns)
    assert sum(e.prim.name == "sin" for e in s.eqns) == 1
    assert not any(e.prim.name == "exp" for e in s.eqns)
    for args in [(W, 0.5), (W * 2, -1.0)]:
        np.testing.assert_array_equal(pdx.interpret(s, *args)[0], pdx.interpret(g, *args)[0])


# -- custom rules ---------------------------------------------------------------------------------

@pdx.custom_jvp
def safe_log1pexp(x):
    return pnp.log1p(pnp.exp(x))


@safe_log1pexp.defjvp
def _safe_log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return safe_log1pexp(x), t * nn.sigmoid(x)


def test_custom_jvp_is_used_in_both_modes_and_composes():
    x = np.array([-3.0, 0.0, 50.0, 800.0])
    g = pdx.grad(lambda x: pnp.sum(safe_log1pexp(x)))(x)
    np.testing.assert_allclose(g, nn.sigmoid(x), rtol=1e-15)
    assert np.isfinite(g).all()          # the naive rule gives NaN at 800
    _, t = pdx.jvp(safe_log1pexp, (x,), (np.ones(4),))
    np.testing.assert_array_equal(t, g)
    # second order differentiates the rule itself: sigmoid'
    h = pdx.grad(pdx.grad(safe_log1pexp))(0.3)
    s = nn.sigmoid(0.3)
    assert abs(h - s * (1 - s)) < 1e-15
    assert abs(pdx.jit(pdx.grad(safe_log1pexp))(0.3) - s) < 1e-15


def test_custom_jvp_nondiff_argnums():
    def power(n, x):
        return x ** n
    f = pdx.custom_jvp(power, nondiff_argnums=(0,))

    @f.defjvp
    def _(n, primals, tangents):
        (x,), (t,) = primals, tangents
        return f(n, x), n * x ** (n - 1) * t * 10.0     # deliberately scaled: the rule is used
    assert pdx.grad(lambda x: f(3, x))(2.0) == 120.0


@pdx.custom_vjp
def clip_gradient(lo, hi, x):
    return x


clip_gradient.nondiff_argnums = (0, 1)
clip_gradient.defvjp(lambda lo, hi, x: (x, None), lambda lo, hi, res, g: (pnp.clip(g, lo, hi),))


def test_custom_vjp_rule_and_nondiff_argnums():
    assert pdx.grad(lambda x: 5.0 * clip_gradient(-1.0, 1.0, x))(2.0) == 1.0
    assert pdx.grad(lambda x: 0.5 * clip_gradient(-1.0, 1.0, x))(2.0) == 0.5
    g = pdx.grad(lambda x: pnp.sum(3.0 * clip_gradient(-2.0, 2.0, x)))(np.ones(3))
    np.testing.assert_array_equal(g, [2.0, 2.0, 2.0])


def test_custom_vjp_second_order_through_bwd():
    @pdx.custom_vjp
    def square(x):
        return x * x
    square.defvjp(lambda x: (x * x, x), lambda x, g: (2.0 * x * g,))
    assert pdx.grad(square)(3.0) == 6.0
    assert pdx.grad(pdx.grad(square))(3.0) == 2.0
    assert pdx.hessian(square)(3.0) == 2.0


def test_custom_vjp_forward_mode_says_to_use_custom_jvp():
    @pdx.custom_vjp
    def f(x):
        return x * 2.0
    f.defvjp(lambda x: (x * 2.0, None), lambda res, g: (g * 2.0,))
    with pytest.raises(TypeError, match="custom_jvp"):
        pdx.jvp(f, (1.0,), (1.0,))
    with pytest.raises(TypeError, match="custom_jvp"):
        pdx.jacfwd(f)(1.0)


# -- checkpoint --------------------------------------------------------------------------------------

def _deep(x):
    for _ in range(6):
        x = pnp.tanh(x) * 1.5 + 0.1 * x
    return pnp.sum(x ** 2)


def test_checkpoint_gives_the_same_derivatives():
    x = np.linspace(-1, 1, 7)
    c = pdx.checkpoint(_deep)
    np.testing.assert_allclose(pdx.grad(c)(x), pdx.grad(_deep)(x), rtol=1e-14)
    np.testing.assert_allclose(pdx.hessian(c)(x), pdx.hessian(_deep)(x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(pdx.jacfwd(c)(x), pdx.jacrev(_deep)(x), rtol=1e-13)
    pdx.check_grads(c, (x,), order=2)


def test_checkpoint_keeps_only_inputs_in_the_linearization():
    x = np.linspace(-1, 1, 7)
    _, f_jvp = pdx.linearize(pdx.checkpoint(_deep), x)
    _, g_jvp = pdx.linearize(_deep, x)
    # the plain linearization stores every intermediate coefficient; the checkpointed one
    # has one equation and keeps the input itself
    assert len(f_jvp.graph.eqns) == 1 and f_jvp.graph.eqns[0].prim.name == "checkpoint_lin"
    assert len(g_jvp.graph.eqns) > 10


# -- debug_nans ---------------------------------------------------------------------------------------

def test_debug_nans_forward_names_primitive_and_line():
    with pdx.debug_nans():
        with pytest.raises(FloatingPointError, match=r"'log'.*test_jit_custom\.py"):
            pdx.grad(lambda x: pnp.sum(pnp.log(x)))(np.array([1.0, -1.0]))


def test_debug_nans_backward_names_the_forward_operation():
    def f(x):
        return pnp.sqrt(x) * 2.0
    with pdx.debug_nans():
        with pytest.raises(FloatingPointError, match=r"backward.*'sqrt'.*test_jit_custom\.py"):
            pdx.grad(f)(0.0)


@pytest.mark.parametrize("f, x", [
    (lambda x: pnp.where(x > 0, x, 0.0), 0.0),
    (lambda x: x ** 1.875, 0.0),
    (lambda x: pnp.linalg.norm(x), np.zeros(3)),
    (lambda x: nn.logsumexp(x), np.full(3, -1e300)),
    (lambda x: pnp.sum(nn.softplus(x)), np.array([-1e4, 1e4])),
    (lambda x: pnp.sum(nn.sigmoid(x)), np.array([-1e4, 1e4])),
    (lambda x: pnp.sum(pnp.abs(x)), np.zeros(2)),
])
def test_debug_nans_no_false_positives_from_internals(f, x):
    with pdx.debug_nans():
        g = pdx.grad(f)(x)
        gj = pdx.jit(pdx.grad(f))(x)
    assert np.isfinite(g).all()
    np.testing.assert_array_equal(gj, g)


def test_debug_nans_sees_through_jit():
    """A jitted function runs operation by operation under debug_nans (the compiled
    code, warm in the cache, has no checks), forward and backward, scalar fast path too."""
    f = pdx.jit(lambda x: pnp.sum(pnp.log(x) * 2.0))
    g = pdx.jit(pdx.grad(lambda x: pnp.sqrt(x) * 2.0))
    x = np.array([1.0, -1.0])
    f(x), g(0.0), g(1.0)                       # compiled and cached (the float fast path too)
    with pdx.debug_nans():
        with pytest.raises(FloatingPointError, match=r"'log'.*test_jit_custom\.py"):
            f(x)
        with pytest.raises(FloatingPointError, match=r"backward.*'sqrt'.*test_jit_custom\.py"):
            g(0.0)
        assert g(1.0) == 1.0
    assert np.isnan(f(x)) and g(0.0) == np.inf  # and compiled again outside


def test_jit_scalar_fast_path_matches_numpy_semantics():
    f = pdx.jit(lambda x, y: pnp.log(x) / y + pnp.sqrt(x) * pnp.maximum(y, 0.0))
    for x, y in [(2.0, 3.0), (0.0, 1.0), (-1.0, 2.0), (1.0, 0.0), (0.0, 0.0)]:
        with np.errstate(all="ignore"):
            expected = np.log(x) / y + np.sqrt(x) * max(y, 0.0)
        got = f(x, y)
        assert type(got) is float
        assert (np.isnan(got) and np.isnan(expected)) or got == expected
    g = pdx.jit(pdx.grad(lambda x, y: x ** 2 + 3 * x * y, argnums=(0, 1)))
    assert g(1.0, 2.0) == (8.0, 3.0)
    assert g(np.float64(1.0), 2.0) == (8.0, 3.0)        # not all Python floats: the array path
    assert pdx.jit(pdx.grad(pnp.sqrt))(0.0) == np.inf


# -- jit across the registry (TESTING.md: "vmap and jit results equal the eager ones") ------------

from primitive_specs import PRIMITIVE_SPECS  # noqa: E402

from partiald.compile import native, tiling  # noqa: E402
from partiald.core.primitive import REGISTRY  # noqa: E402


def _rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    if a.dtype.kind not in "fc":
        return 0.0 if np.array_equal(a, b) else np.inf
    if a.size == 0:
        return 0.0
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if same.all():
        return 0.0
    return float(np.max(np.abs(a - b)[~same] / np.maximum(1.0, np.abs(b)[~same])))


@pytest.mark.parametrize("tiles", [None, 2, 3, "native"], ids=["untiled", "tiles2", "tiles3", "native"])
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_jit_matches_eager_on_every_primitive(name, tiles):
    """Each sample of each primitive: the jitted value, VJP and JVP equal the eager ones,
    and the inputs are left untouched; also with elementwise work forced into tiles,
    and into fused native loops (where a C compiler works). The tiled and native
    variants change how the code runs, not which shapes it sees: they take every shape
    case with one seed, the untiled run every seed."""
    if tiles == "native":
        if not native.available():
            pytest.skip(f"no native backend: {native.error()}")
        with native.forced():
            _check_jit_on_samples(name, seeds=(0,))
    elif tiles is not None:
        with tiling.forced(tiles):
            _check_jit_on_samples(name, seeds=(0,))
    else:
        _check_jit_on_samples(name)


def _check_jit_on_samples(name, seeds=None):
    count = 0
    spec = PRIMITIVE_SPECS[name]
    for case in (spec.cases() if seeds is None else spec.cases(seeds)):
        xs = tuple(np.asarray(p) for p in case.primals)
        if any(x.dtype.kind != "f" for x in xs):
            continue
        with np.errstate(all="ignore"):
            want = case.fn(*xs)
            copies = [x.copy() for x in xs]
            got = pdx.jit(case.fn)(*xs)
            assert _rel(got, want) <= 1e-13, case.id
            if case.zero or np.asarray(want).dtype.kind != "f":
                count += 1
                continue
            r = np.random.default_rng(case.seed)
            u = r.standard_normal(np.shape(want)).astype(np.asarray(want).dtype)
            u = u[()] if u.ndim == 0 else u
            vs = tuple(r.standard_normal(x.shape) for x in xs)
            back = pdx.vjp(case.fn, *xs)[1](u)
            jback = pdx.jit(lambda *a: pdx.vjp(case.fn, *a)[1](u))(*xs)
            for g, w in zip(jback, back):
                assert _rel(g, w) <= 1e-13, f"{case.id} vjp"
            jv = pdx.jvp(case.fn, xs, vs)[1]
            jjv = pdx.jit(lambda *a: pdx.jvp(case.fn, a, vs)[1])(*xs)
            assert _rel(jjv, jv) <= 1e-13, f"{case.id} jvp"
        assert all(np.array_equal(x, c, equal_nan=True) for x, c in zip(xs, copies)), case.id
        count += 1
    assert count >= 1


# -- what the generator does with buffers ------------------------------------------------------

def test_rosenbrock_gradient_code_accumulates_in_place():
    """The gradient's scatter_adds become slice writes into one buffer (no zero-filled
    array per slice, no extra add), elementwise work reuses dying temporaries, and the
    result is bitwise the eager one with the input untouched."""
    x = np.random.default_rng(1).uniform(-2, 2, 1001)
    graph, source = pdx.jit(pdx.grad(rosen)).lower(x)
    assert "+=" in source and "_p" not in source.split("):", 1)[1], source
    n_lines = sum(1 for ln in source.splitlines() if not ln.strip().startswith("del "))
    assert source.count("_np.empty") == 1 and n_lines < 25, source
    x0 = x.copy()
    assert np.array_equal(pdx.jit(pdx.grad(rosen))(x), pdx.grad(rosen)(x))
    assert np.array_equal(x, x0)


def test_results_never_alias_inputs_or_each_other():
    x = np.arange(6.0)
    f = pdx.jit(lambda x: (x[1:], pnp.reshape(x, (2, 3)), pnp.transpose(pnp.reshape(x, (2, 3))), x * 2.0))
    outs = f(x)
    for o in outs:
        assert not np.shares_memory(o, x)
    outs[0][:] = -1.0
    assert np.array_equal(x, np.arange(6.0))


def test_overwritten_buffers_are_dead():
    """A temporary read after a later operation (directly or through a view) is never
    the buffer that operation writes into."""
    def f(x):
        a = pnp.exp(x)              # fresh buffer
        v = a[1:]                   # a view of it, read last
        b = pnp.sin(a)              # a is still live through v: b must not reuse a
        c = b * 2.0 + 1.0
        return pnp.sum(c[1:] * v)
    x = np.linspace(-1, 1, 9)
    assert pdx.jit(f)(x) == f(x)
    np.testing.assert_array_equal(pdx.jit(pdx.grad(f))(x), pdx.grad(f)(x))


def test_power_of_two_scale_folding_is_exact_at_the_extremes():
    x = np.array([1e308, -1e308, 5e-324, -2.5e-310, 3.3, -0.0, np.inf, np.nan, 8.98846567431158e307])
    for f in (lambda x: 100.0 * (x * 2.0), lambda x: -3.0 * (4.0 * x), lambda x: 0.5 * (x * 2.0),
              lambda x: 3.0 * (x * 0.25)):
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(pdx.jit(f)(x), f(x))
    graph, _ = pdx.jit(lambda x: 100.0 * (x * 2.0)).lower(x)
    assert [e.prim.name for e in graph.eqns] == ["mul"]         # 200 * x, one pass
    graph, _ = pdx.jit(lambda x: 3.0 * (x * 0.25)).lower(x)
    assert len(graph.eqns) == 2                                  # not exact: left alone


def test_identity_basis_products_become_transposes():
    """jit(hessian) of a logistic loss: the batched tangent X @ I is X itself (no
    n*d*d product), and the Hessian still equals the closed form."""
    rng = np.random.default_rng(0)
    X, w, y = rng.normal(size=(50, 7)), rng.normal(size=7), (rng.uniform(size=50) < 0.5) * 1.0
    h = pdx.jit(pdx.hessian(logistic))
    graph, _ = h.lower(w, X, y)
    products = [e for e in graph.eqns if e.prim.name == "einsum"]
    assert len(products) == 2, [e.params for e in products]     # X @ w and the final X^T D X
    p = 1 / (1 + np.exp(-(X @ w)))
    np.testing.assert_allclose(h(w, X, y), (X * (p * (1 - p))[:, None]).T @ X / 50, rtol=1e-12)
    np.testing.assert_array_equal(h(w, X, y), pdx.hessian(logistic)(w, X, y))


def _stencil2d(x):
    dx = x[1:, :] - x[:-1, :] ** 2
    return pnp.sum(pnp.tanh(dx) ** 2 + 0.5 * (x[:-1, :] - 1.0) ** 2) + pnp.sum(pnp.sin(x[2:, :] * x[:-2, :]))


@pytest.mark.parametrize("elems", [1, 2, 3, 7, 1 << 14])
@pytest.mark.parametrize("f, shape", [(rosen, (23,)), (_stencil2d, (11, 3))], ids=["rosen", "stencil2d"])
def test_tiled_gradients_equal_untiled_bitwise(f, shape, elems):
    """The tiled loop (compile/tiling.py) accumulates the shifted-slice gradient
    tile by tile in program order: bitwise the untiled result, for every tile size."""
    x = np.random.default_rng(7).uniform(-1.5, 1.5, shape)
    want_v, want_g = pdx.value_and_grad(f)(x)
    with tiling.forced(elems):
        vg = pdx.jit(pdx.value_and_grad(f))
        graph, source = vg.lower(x)
        region = tiling.find_region(graph)
        v, g = vg(x)
    assert region is not None and region.chain, source
    np.testing.assert_array_equal(g, want_g)
    assert v == pytest.approx(want_v, rel=1e-14)


def test_large_rosenbrock_gradient_is_tiled_by_default():
    x = np.random.default_rng(8).uniform(-1, 1, tiling.TILE_MIN * 2)
    graph, source = pdx.jit(pdx.grad(rosen)).lower(x)
    r = tiling.find_region(graph)
    # two shifted-slice scatters: x[:-1], read twice, gets one cotangent (summed before its
    # scatter, by the common-subexpression pass that runs before linearizing)
    assert r is not None and len(r.chain) == 2 and r.rows == tiling.TILE_ELEMS, source
    np.testing.assert_array_equal(pdx.jit(pdx.grad(rosen))(x), pdx.grad(rosen)(x))


def test_generated_code_releases_dead_values_so_checkpoint_saves_memory_under_jit():
    """Each intermediate is deleted after its last read, so under jit(grad) a
    checkpointed chain keeps only the segment inputs (tracemalloc peak, deterministic)."""
    import tracemalloc
    W = np.random.default_rng(2).normal(size=(50, 50)) / 7

    def layer(x):
        return pnp.tanh(x @ W) + 0.5 * x

    def segment(x):
        for _ in range(8):
            x = layer(x)
        return x

    def plain(x):
        for _ in range(32):
            x = layer(x)
        return pnp.sum(x * x)

    def checkpointed(x):
        seg = pdx.checkpoint(segment)
        for _ in range(4):
            x = seg(x)
        return pnp.sum(x * x)

    x = np.random.default_rng(3).uniform(-1, 1, (400, 50))
    peaks = []
    for f in (plain, checkpointed):
        g = pdx.jit(pdx.grad(f))
        g(x)
        tracemalloc.start()
        try:
            out = g(x)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        np.testing.assert_allclose(out, pdx.grad(plain)(x), rtol=1e-12)
    layer_bytes = x.nbytes
    assert peaks[0] > 25 * layer_bytes         # all 32 layers' residuals are live at once
    assert peaks[1] < 0.5 * peaks[0], peaks    # segment inputs plus one segment's residuals


def test_tiled_programs_never_return_views_of_their_inputs():
    x = np.linspace(-1, 1, 12)

    def f(x):
        y = pnp.sin(x) * pnp.exp(x) + x * x - pnp.tanh(x)
        return x[1:], pnp.reshape(x, (3, 4)), y, pnp.sum(y)
    with tiling.forced(2):
        outs = pdx.jit(f)(x)
    for o, want in zip(outs, f(x)):
        np.testing.assert_array_equal(o, want)
        assert not np.shares_memory(o, x)


def test_tiling_keeps_rows_apart_from_trailing_broadcasts():
    """A (3,) value that broadcasts along the columns of a (3, 3) result is not a tile
    of rows (found by the random-program campaign)."""
    x = np.array([0.41088506, -0.69063986, -1.37707943])

    def f(x):
        v = pnp.arctan(pnp.arctan(x))
        col = pnp.arctan(pnp.transpose(pnp.reshape(x, (1, 3))))
        return pnp.arctan(col) + pnp.arctan(v) + pnp.sin(v)
    for elems in (1, 2, 3):
        with tiling.forced(elems):
            np.testing.assert_array_equal(pdx.jit(f)(x), f(x))


def test_masked_overwrite_where_the_mask_holds_somewhere_or_nowhere():
    """``where(c, 0, a)`` with ``a`` dying overwrites ``a`` in place, and skips the masked
    pass when ``c`` holds nowhere; a broadcast (n,) mask over (m, n) values included."""
    X = np.random.default_rng(11).normal(size=(7, 5))

    def f(X, v):
        c = v < 0.0
        return pnp.where(c, 0.0, pnp.sin(X) * v)
    g = pdx.jit(f)
    _, source = g.lower(X, np.ones(5))
    assert "if " in source and ".any(): _np.copyto(" in source, source
    for v in (np.array([1.0, -0.5, 2.0, np.inf, -3.0]), np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
              -np.ones(5)):
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(g(X, v), f(X, v))


def test_tiling_passes_an_outside_value_one_way():
    """A (3,) value read row by row by an op of shape (3,) and broadcast along the rows
    of a (3, 3) op is not both a tile and a whole array (found by the nightly campaign)."""
    x = np.array([[0.3], [-0.7], [1.2]])

    def f(x):
        b = pnp.reshape(x, (3,))
        c = x + b
        g = pnp.arctan(pnp.arctan(b))
        return pnp.sum(b * (c * g) - pnp.arctan(pnp.arctan(c)) * g)
    want = f(x)
    for elems in (1, 2, 3):
        with tiling.forced(elems):
            assert pdx.jit(f)(x) == pytest.approx(want, rel=1e-14)
            np.testing.assert_allclose(pdx.jit(pdx.grad(f))(x), pdx.grad(f)(x), rtol=1e-13)
