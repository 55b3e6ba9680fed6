"""The primitive record is the single source of truth (DESIGN.md, "Primitive").

Every registered record carries what each transformation needs, every record is
swept by the per-primitive tests (the OpInfo-style sweep, vmap, jit, eager,
sparsity), every record with a formula name works in formulas, and a new
elementwise record works everywhere with nothing written outside it.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from primitive_specs import PRIMITIVE_SPECS

import partiald as pdx
import partiald.numpy as pnp
from partiald.compile.codegen import compile_graph
from partiald.core.primitive import REGISTRY, Primitive, bind, register
from partiald.ops import batch_rules
from partiald.ops import elementwise as ew
from partiald.symbolic.functions import RECORDS
from partiald.transforms import sparsity as S

NAMES = sorted(REGISTRY)


@pytest.mark.parametrize("name", NAMES)
def test_record_is_complete(name):
    p = REGISTRY[name]
    assert p.jvp is not None, f"{name}: no JVP rule (zero_jvp for a derivative zero by definition)"
    assert p.batch is not None, f"{name}: no batching rule"
    S.rule_for(p)                                   # raises SparsityRuleError when missing
    if p.linear:
        assert p.transpose is not None, f"{name}: linear but no transpose rule"
    if p.exact:
        assert "python" in p.lowerings, f"{name}: exact but no python lowering"
    for target in p.lowerings:
        assert target in ("numpy", "python", "fused", "array_api"), f"{name}: unknown target {target!r}"
    lower = p.lowerings.get("numpy")
    if isinstance(lower, str):
        assert isinstance(getattr(np, lower), np.ufunc), f"{name}: numpy lowering is no ufunc"
    else:
        assert lower is None or callable(lower), f"{name}: numpy lowering is neither a ufunc name nor a function"


def test_every_record_is_swept_by_the_per_primitive_tests():
    # test_primitives (values, JVP/VJP against FD and the complex step, second order),
    # test_vmap, test_jit_custom, test_eager_fast and test_sparse all iterate PRIMITIVE_SPECS
    assert set(PRIMITIVE_SPECS) == set(REGISTRY)


@pytest.mark.parametrize("symbol", sorted(RECORDS))
def test_every_formula_function_parses_differentiates_and_prints(symbol):
    record = RECORDS[symbol]
    spec = PRIMITIVE_SPECS[record.name]
    lo, hi = spec.domain
    x0 = lo + 0.37 * (hi - lo) if np.isfinite(lo) and np.isfinite(hi) else 0.37
    if symbol == "sqrt":
        x0 = 1.3
    e = pdx.expr(f"{symbol}(2*x) + x")
    d = e.diff("x")
    want = 2.0 * float(pdx.grad(lambda t: bind(record, t))(2.0 * x0)) + 1.0
    assert math.isclose(float(d(x=x0)), want, rel_tol=1e-12, abs_tol=1e-14), (str(d), want)
    assert math.isclose(float(e(x=x0)), float(record.impl(2.0 * x0)) + x0, rel_tol=1e-14)
    assert symbol in str(e) and e.latex()
    steps = str(e.explain("x"))
    assert record.rule_name in steps or symbol in steps


def test_special_functions_against_the_math_module():
    x = np.linspace(-4.0, 4.0, 81)
    for name, ref in [("erf", math.erf), ("erfc", math.erfc), ("cbrt", math.cbrt), ("exp2", math.exp2),
                      ("arcsinh", math.asinh)]:
        got = bind(REGISTRY[name], x)
        want = np.array([ref(v) for v in x])
        np.testing.assert_allclose(got, want, rtol=2e-15, atol=1e-300, err_msg=name)
    assert pdx.scipy.special.erf(0.0) == 0.0
    assert math.isclose(pdx.grad(pdx.scipy.special.erf)(0.0), 2 / math.sqrt(math.pi), rel_tol=1e-15)
    assert pdx.grad(lambda v: pnp.hypot(v[0], v[1]))(np.zeros(2)).tolist() == [0.0, 0.0]
    assert math.isclose(pdx.grad(lambda a: pnp.hypot(a, 4.0))(3.0), 0.6, rel_tol=1e-15)


@pytest.fixture
def softsign_p():
    """A new elementwise primitive, ``x / (1 + |x|)``, defined by its record alone."""
    def jvp(tangents, ans, x):
        d = ew.add(1.0, bind(ew.abs_p, x))
        return ew.safe_mul(tangents[0], ew.div(1.0, ew.mul(d, d)))

    p = register(Primitive("test_softsign", lambda x: np.divide(x, 1.0 + np.abs(x)), ew.float_elementwise_aval,
                           jvp=jvp, batch=batch_rules.elementwise("test_softsign"), sparsity=ew.UNARY,
                           elementwise=True, rule_name="quotient rule"))
    try:
        yield p
    finally:
        del REGISTRY["test_softsign"]


def test_a_new_record_works_everywhere_with_nothing_written_elsewhere(softsign_p):
    def f(x):
        return pnp.sum(bind(softsign_p, x[1:] * x[:-1]))

    x = np.linspace(-1.5, 2.0, 9)
    g = pdx.grad(f)(x)
    h = 1e-6
    fd = np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(x.size)])
    np.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-9)
    # vmap by its record's batching rule (not a loop), jit through the impl, sparsity by its pairs
    xs = np.stack([x, 2 * x, -x])
    np.testing.assert_allclose(pdx.vmap(pdx.grad(f))(xs), [pdx.grad(f)(r) for r in xs], rtol=1e-15)
    np.testing.assert_allclose(pdx.jit(pdx.grad(f))(x), g, rtol=1e-15)
    H = pdx.sparse_hessian(f)(x)
    np.testing.assert_allclose(H.toarray(), pdx.hessian(f)(x), rtol=1e-12, atol=1e-14)
    assert H.nnz <= 3 * x.size          # tridiagonal: detected from the record's pairs
    graph = pdx.make_graph(f)(x)
    assert "test_softsign" in str(graph)
    assert compile_graph(graph)(x)[0] == pytest.approx(f(x), rel=1e-15)
