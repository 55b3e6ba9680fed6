"""partiald's own code, generated code included, raises no DeprecationWarning (issue 12
item 6). NumPy 2.4 deprecates a positional output buffer (``np.maximum(a, b, out)``):
generated code passes ``out=``. Generated code runs as module ``partiald._generated``,
so the suite's filter (pyproject.toml: ``error::DeprecationWarning:partiald``) makes
the next deprecation raised from it an error the day it appears.
"""
import ast
import warnings

import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald.compile import codegen, native, tiling

#: below native.NATIVE_MIN and tiling.TILE_MIN elements, so that the straight-line
#: code with reused buffers (``out=``) runs, not a fused loop
N = 1000


def _positional_outs(source):
    """Calls of NumPy ufuncs (``_np.<ufunc>``) in ``source`` with more positional
    arguments than the ufunc has inputs, and copyto with positional options."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and getattr(node.func.value, "id", None) == "_np":
            f = getattr(np, node.func.attr, None)
            if (isinstance(f, np.ufunc) and len(node.args) > f.nin) or (node.func.attr == "copyto"
                                                                         and len(node.args) > 2):
                bad.append(ast.unparse(node))
        # a record's impl called with an output buffer (NUMPY_IMPL: safe_mul's)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "").startswith("_impl") and len(node.args) > 2:
            bad.append(ast.unparse(node))
    return bad


def _loss(x, w):
    y = pnp.maximum(x * w, w) + pnp.minimum(x * x, w) * x
    z = pnp.where(y > 1.0, y * y, -y)
    return pnp.sum(pnp.sin(z[1:]) * w[:-1]) + pnp.sum(pnp.exp(x[:-2]) * pnp.maximum(w[2:], 0.0))


def _inputs():
    x = np.linspace(-2.0, 2.0, N)
    return x, np.cos(3 * x)


def _run_as_errors(f, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("error", PendingDeprecationWarning)
        return f(*args)


def test_generated_code_passes_output_buffers_by_keyword():
    x, w = _inputs()
    fwd = pdx.jit(lambda x, w: pnp.maximum(x * w, w) * pnp.minimum(x * x, w))
    g = pdx.jit(pdx.grad(_loss, argnums=(0, 1)))
    sources = [fwd.lower(x, w)[1], g.lower(x, w)[1]]
    for src in sources:
        assert _positional_outs(src) == [], src
    # the buffers are reused (the path this test is about), maximum's and minimum's too
    assert "_np.maximum(" in sources[0] and "out=" in sources[0]
    joined = "\n".join(sources)
    for call in ("_np.maximum(", "_np.minimum(", "_np.multiply(", "_np.add(", "_impl0("):
        assert any(call in ln and "out=" in ln for ln in joined.splitlines()), call
    assert "_np.copyto(" in joined and "where=" in joined


def test_jitted_programs_raise_no_deprecation_warning():
    x, w = _inputs()
    fwd = pdx.jit(lambda x, w: pnp.maximum(x * w, w) * pnp.minimum(x * x, w) + pnp.where(x > 0, x * w, w))
    expected = np.maximum(x * w, w) * np.minimum(x * x, w) + np.where(x > 0, x * w, w)
    np.testing.assert_allclose(_run_as_errors(fwd, x, w), expected, rtol=1e-15)
    g = pdx.jit(pdx.grad(_loss, argnums=(0, 1)))
    gx, gw = _run_as_errors(g, x, w)
    ex, ew = pdx.grad(_loss, argnums=(0, 1))(x, w)          # traced, not generated code
    np.testing.assert_allclose(gx, ex, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(gw, ew, rtol=1e-13, atol=1e-13)


def test_tiled_and_native_programs_raise_no_deprecation_warning(monkeypatch):
    """The tile functions of a tiled program (and the parts around a native loop) are
    generated code too."""
    x, w = _inputs()
    ex, ew = pdx.grad(_loss, argnums=(0, 1))(x, w)
    with tiling.forced(64):
        monkeypatch.setenv("PARTIALD_NATIVE", "0")
        g = pdx.jit(pdx.grad(_loss, argnums=(0, 1)))
        src = g.lower(x, w)[1]
        assert "_tile(" in src
        gx, gw = _run_as_errors(g, x, w)
        np.testing.assert_allclose(gx, ex, rtol=1e-13, atol=1e-13)
        monkeypatch.setenv("PARTIALD_NATIVE", "1")
        if native.enabled() and native.compiler() is not None:
            with native.forced():
                g = pdx.jit(pdx.grad(_loss, argnums=(0, 1)))
                gx, gw = _run_as_errors(g, x, w)
                np.testing.assert_allclose(gw, ew, rtol=1e-13, atol=1e-13)


def test_generated_code_is_module_partiald_generated():
    fn = pdx.jit(lambda x: pnp.sin(x) * 2.0).lower(np.ones(3))
    compiled = codegen.compile_graph(fn[0])
    assert compiled.__module__ == "partiald._generated"
    assert compiled.__code__.co_filename == "<partiald generated>"


@pytest.mark.parametrize("category", [DeprecationWarning, PendingDeprecationWarning])
def test_a_deprecation_in_generated_code_is_an_error_under_a_partiald_filter(category):
    """What pyproject.toml's filter does: a warning raised from generated code is
    attributed to module partiald._generated, which a ``module="partiald"`` filter
    matches (exec'd code is otherwise module ``<string>``, which no filter names)."""
    ns = {"_w": warnings, "_c": category}
    codegen._run("def _f():\n    _w.warn('from generated code', _c)\n", ns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.filterwarnings("error", category=category, module="partiald")
        with pytest.raises(category, match="from generated code"):
            ns["_f"]()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ns["_f"]()
    assert seen[0].filename == "<partiald generated>"
