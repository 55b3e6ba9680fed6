"""The eager fast path of grad/vjp: a cached backward program per traced structure.

Eager ``grad`` traces ``f`` on every call; the backward program (linearize +
transpose of the JVP rules) is derived once per exact structure of the trace and
then evaluated on each call's own forward values. These tests check that it is
invisible: results are bitwise those of deriving the program per call, Python
control flow and side effects run on every call, and any difference in the trace
(primitives, parameters, wiring, shapes, dtypes, literal values down to the sign
of zero) selects a different program.
"""
import math

import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald.core.pytree import tree_flatten
from partiald import api
from partiald.core import trace
from partiald.compile import staged

from primitive_specs import PRIMITIVE_SPECS


@pytest.fixture(autouse=True)
def fresh_cache():
    staged._CACHE.clear()
    staged._CACHE_SEEN.clear()
    yield
    staged._CACHE.clear()
    staged._CACHE_SEEN.clear()


def _bits(tree):
    """Everything a result is made of: structure, types, dtypes, shapes and bytes."""
    leaves, treedef = tree_flatten(tree)
    return treedef, [(type(x), np.asarray(x).dtype, np.shape(x), np.asarray(x).tobytes()) for x in leaves]


def _uncached(fn, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(staged, "CACHE_SIZE", 0)
        return fn()


def _cached(fn):
    """``fn()`` on its third call: once seen, once staged, once from the cache."""
    for _ in range(2):
        fn()
    n = len(staged._CACHE)
    out = fn()
    assert len(staged._CACHE) == n
    return out


# -- bitwise agreement with the per-call derivation over every primitive ---------------------

def _float_cases():
    """Every primitive's sampled cases with a float output, in float64 and float32."""
    out = []
    for name, spec in sorted(PRIMITIVE_SPECS.items()):
        for case in spec.cases(seeds=(0,)):
            with np.errstate(all="ignore"):
                res = np.asarray(case.fn(*case.primals))
            if res.dtype.kind == "f":
                out += [case, case.astype(np.float32)]
    return out


CASES = _float_cases()
IDS = [f"{c.id}-{np.asarray(c.primals[0]).dtype}" for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_vjp_bitwise_equal_to_per_call_derivation(case, monkeypatch):
    with np.errstate(all="ignore"):
        out = np.asarray(case.fn(*case.primals))
    rng = np.random.default_rng(0)
    ct = rng.standard_normal(out.shape).astype(out.dtype)
    if out.ndim == 0:
        ct = ct[()]

    def run():
        return pdx.vjp(case.fn, *case.primals)[1](ct)
    expected = _uncached(run, monkeypatch)
    assert _bits(_cached(run)) == _bits(expected)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_grad_bitwise_equal_to_per_call_derivation(case, monkeypatch):
    with np.errstate(all="ignore"):
        out = np.asarray(case.fn(*case.primals))
    w = np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype)

    def loss(*p):
        return pnp.sum(case.fn(*p) * w)
    g = pdx.grad(loss, argnums=tuple(range(len(case.primals))))
    scalars = tuple(float(p) if np.ndim(p) == 0 and p.dtype == np.float64 else p for p in case.primals)

    def run():
        return g(*scalars)
    expected = _uncached(run, monkeypatch)
    assert _bits(_cached(run)) == _bits(expected)


# -- the benchmark function and the scalar conventions --------------------------------------------

SCALAR_FUNCTIONS = [
    lambda x, y: x ** 2 + 3 * x * y,
    lambda x, y: x * y - x / y + (-x),
    lambda x, y: pnp.maximum(x, 0.0) * y,                 # relu'(0) = 0
    lambda x, y: pnp.where(x > 0, pnp.sqrt(x), 0.0) + y,  # the untaken branch contributes 0
    lambda x, y: pnp.abs(x) * y ** 3,
    lambda x, y: x ** 0 + y ** 1 + x ** 2 * y ** -2,
    lambda x, y: pnp.exp(x) * pnp.sin(y) + pnp.log(y * y + 1.0),
    lambda x, y: pnp.where(x < y, x * 2.0, y * 3.0),
    lambda x, y: 1.0 / x + y,
    lambda x, y: x * 0.0 + y * -0.0,
    lambda x, y: x * np.inf + y,
    lambda x, y: 3.0,
    lambda x, y: x,
    lambda x, y: x + y,                                   # the seed cotangent is the gradient
    lambda x, y: x - 2.5 * y,
    lambda x, y: pnp.where(x > y, x, y),
    lambda x, y: pnp.abs(x - y) * 0.5,
    lambda x, y: -(x * y),
    lambda x, y: x ** 2 * y ** 2 - y ** 2,
]
POINTS = [(1.0, 2.0), (0.0, 0.0), (-0.0, 1.5), (-1.5, 0.5), (np.inf, 1.0), (np.nan, 2.0), (0.0, -0.0),
          (1e308, 1e308), (2.0 ** -1074, 3.0), (-np.nan, np.nan), (np.nan, -np.nan), (-np.inf, np.inf)]


@pytest.mark.parametrize("k", range(len(SCALAR_FUNCTIONS)))
def test_scalar_functions_bitwise(k, monkeypatch):
    g = pdx.grad(SCALAR_FUNCTIONS[k], argnums=(0, 1))
    with np.errstate(all="ignore"):
        for x, y in POINTS:
            expected = _uncached(lambda: g(x, y), monkeypatch)
            assert _bits(_cached(lambda: g(x, y))) == _bits(expected), (x, y)


def test_nan_signs_are_numpys():
    # Of two NaN operands, NumPy's ufuncs pass on the first and Python's arithmetic the
    # second: values and gradients keep NumPy's choice on every path.
    nan, neg = np.float64(np.nan), np.float64(-np.nan)
    for f, ref in [(lambda x, y: x + y, np.add), (lambda x, y: x * y, np.multiply),
                   (lambda x, y: x - y, np.subtract), (lambda x, y: x / y, np.true_divide)]:
        vg = pdx.value_and_grad(f, argnums=(0, 1))
        for a, b in [(nan, neg), (neg, nan)]:
            for _ in range(3):
                value, grads = vg(float(a), float(b))
                assert _bits(value) == _bits(float(ref(a, b)))
    g = pdx.grad(lambda x, y: x * y + y * x, argnums=(0, 1))
    for _ in range(3):
        expected = tuple(float(np.add(np.multiply(1.0, v), np.multiply(v, 1.0))) for v in (neg, nan))
        assert _bits(g(float(nan), float(neg))) == _bits(expected)


def test_benchmark_function_hits_the_cache():
    g = pdx.grad(lambda x, y: x ** 2 + 3 * x * y, argnums=(0, 1))
    assert g(1.0, 2.0) == (8.0, 3.0)
    assert g(1.0, 2.0) == (8.0, 3.0)
    (prog,) = staged._CACHE.values()
    assert prog.floats is not None          # the Python-float program
    assert g(-0.5, 3.25) == (8.75, -1.5)
    assert len(staged._CACHE) == 1


# -- the cache is keyed on the exact trace ------------------------------------------------------------

def test_value_dependent_control_flow_selects_its_own_program():
    def f(x):
        if x > 0:
            return x * x * 3.0
        return pnp.sin(x) * 2.0
    g = pdx.grad(f)
    for _ in range(3):
        for x in (1.5, -1.5, 2.0, -0.25):
            expected = 6.0 * x if x > 0 else 2.0 * math.cos(x)
            assert g(x) == pytest.approx(expected, rel=1e-15)
    assert len(staged._CACHE) == 2


def test_loop_length_depends_on_a_value():
    def f(x, n):
        y = x
        for _ in range(int(n)):
            y = y * x
        return y
    g = pdx.grad(f)
    for _ in range(3):
        for n in (1.0, 2.0, 3.0):
            assert g(1.5, n) == pytest.approx((n + 1) * 1.5 ** n, rel=1e-15)


def test_side_effects_run_on_every_call():
    seen = []

    def f(x, y):
        seen.append(f"{x:g}")       # formatting for display reads the value (float(x) would raise)
        return x * y
    g = pdx.grad(f)
    for i in range(5):
        assert g(float(i), 2.0) == 2.0
    assert seen == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize("a, b", [(0.0, -0.0), (2, 2.0), (True, 1), (1.0, True), (1, np.float64(1.0)),
                                  (np.float32(2.0), 2.0), (np.array(2.0), 2.0)])
def test_literals_that_compare_equal_are_different_traces(a, b, monkeypatch):
    def grads(c):
        g = pdx.grad(lambda x: x * c)
        return [g(1.5) for _ in range(3)]
    for c in (a, b, a, b):
        got = grads(c)
        expected = _uncached(lambda: pdx.grad(lambda x: x * c)(1.5), monkeypatch)
        for r in got:
            assert _bits(r) == _bits(expected)
    assert math.copysign(1.0, pdx.grad(lambda x: x * -0.0)(1.5)) == -1.0


def test_literal_array_mutated_in_place():
    a = np.array([1.0, 2.0])
    g = pdx.grad(lambda x: pnp.sum(x * a))
    x = np.array([3.0, 4.0])
    for _ in range(3):
        np.testing.assert_array_equal(g(x), [1.0, 2.0])
    a[:] = [5.0, 6.0]
    for _ in range(3):
        np.testing.assert_array_equal(g(x), [5.0, 6.0])
    b = np.array([1.0, 2.0])                   # same bytes as the first program's literal
    np.testing.assert_array_equal(pdx.grad(lambda x: pnp.sum(x * b))(x), [1.0, 2.0])


def test_shapes_and_dtypes_select_programs(monkeypatch):
    def f(x):
        return pnp.sum(pnp.sin(x) * x)
    g = pdx.grad(f)
    inputs = [np.float32(0.5), 0.5, np.ones(3), np.ones((2, 3), np.float32), np.ones(4), 0.25]
    for _ in range(3):
        for x in inputs:
            expected = _uncached(lambda: g(x), monkeypatch)
            assert _bits(g(x)) == _bits(expected)
    assert pdx.grad(f)(np.float32(0.5)).dtype == np.float32


def test_nested_grad_is_exact(monkeypatch):
    f = lambda x: pnp.sin(x) * x ** 3    # noqa: E731
    g2 = pdx.grad(pdx.grad(f))
    expected = _uncached(lambda: g2(0.7), monkeypatch)
    for _ in range(3):
        assert _bits(g2(0.7)) == _bits(expected)
    # a closure over an outer traced value: the inner trace captures it
    h = pdx.grad(lambda y: pdx.grad(lambda x: x * y * y)(2.0) * y)
    for _ in range(3):
        assert h(3.0) == 27.0
    hess = pdx.hessian(lambda x: x[0] ** 2 * x[1])
    for _ in range(3):
        np.testing.assert_array_equal(hess(np.array([1.0, 2.0])), [[4.0, 2.0], [2.0, 0.0]])


def test_user_rules_run_on_every_call(monkeypatch):
    calls = []

    @pdx.custom_jvp
    def h(x):
        return pnp.sin(x)

    @h.defjvp
    def h_jvp(primals, tangents):
        calls.append(1)
        (x,), (t,) = primals, tangents
        return h(x), pnp.cos(x) * t
    g = pdx.grad(lambda x: h(x) * 2.0)
    expected = _uncached(lambda: g(0.5), monkeypatch)
    per_call = len(calls)
    calls.clear()
    for _ in range(4):
        assert g(0.5) == expected
    assert len(calls) == 4 * per_call
    assert not staged._CACHE


def test_has_aux_and_value_and_grad():
    def f(x, y):
        return x * y, {"x": x}
    vg = pdx.value_and_grad(f, argnums=(0, 1), has_aux=True)
    for _ in range(3):
        (value, aux), grads = vg(2.0, 3.0)
        assert value == 6.0 and aux == {"x": 2.0} and grads == (3.0, 2.0)
        assert pdx.grad(f, has_aux=True)(2.0, 3.0) == (3.0, {"x": 2.0})


def test_debug_nans_derives_per_call():
    g = pdx.grad(lambda x: pnp.sqrt(x) * 2.0)
    with pdx.debug_nans():
        for _ in range(3):
            assert g(4.0) == 0.5
        assert not staged._CACHE and not staged._CACHE_SEEN
        with pytest.raises(FloatingPointError):
            g(-1.0)


def test_staging_failure_falls_back(monkeypatch):
    def boom(graph, cts):
        raise RuntimeError("cannot stage")
    monkeypatch.setattr(staged, "_stage", boom)
    g = pdx.grad(lambda x: x * x)
    for _ in range(3):
        assert g(3.0) == 6.0
    assert list(staged._CACHE.values()) == [staged._NO_PROGRAM]


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(staged, "CACHE_SIZE", 4)
    for k in range(12):
        g = pdx.grad(lambda x: x * float(k))
        for _ in range(3):
            assert g(1.0) == float(k)
        assert len(staged._CACHE) <= 4 and len(staged._CACHE_SEEN) <= 4
    assert len(staged._CACHE) == 4


def test_results_are_fresh_arrays():
    g = pdx.grad(lambda x: pnp.sum(x))
    x = np.ones(3)
    for _ in range(3):
        r = g(x)
        r[0] = 7.0
        np.testing.assert_array_equal(g(x), np.ones(3))
        assert not np.shares_memory(r, x)


# -- a grad function's next trace repeating its last one ---------------------------------------

def test_repeating_the_last_trace_with_other_literals(monkeypatch):
    c = [0.0]
    g = pdx.grad(lambda x, y: x * c[0] + y * 2.0, argnums=(0, 1))
    values = [0.0, -0.0, 1, True, 1.0, np.float32(1.0), 2.0 ** -1074, np.nan, -np.nan, 3]
    for _ in range(3):
        for v in values:
            c[0] = v
            expected = _uncached(lambda: g(1.5, 2.5), monkeypatch)
            assert _bits(g(1.5, 2.5)) == _bits(expected), v


def test_repeating_the_last_trace_with_other_parameters_and_lengths(monkeypatch):
    n = [2]
    g = pdx.grad(lambda x: x ** n[0] + pnp.sum(pnp.reshape(x, (1,)) * 2.0) * n[0])
    k = [1]

    def h(x):
        y = x
        for _ in range(k[0]):
            y = pnp.sin(y) * x
        return y if k[0] % 2 else y * 1.0
    gh = pdx.grad(h)
    for _ in range(3):
        for m in (2, 3, 2, 0, 1, -1):
            n[0] = m
            expected = _uncached(lambda: g(1.25), monkeypatch)
            assert _bits(g(1.25)) == _bits(expected), m
        for m in (1, 2, 3, 2, 1):
            k[0] = m
            expected = _uncached(lambda: gh(0.75), monkeypatch)
            assert _bits(gh(0.75)) == _bits(expected), m


def test_repeating_with_another_output_or_input_use(monkeypatch):
    which = [0]

    def f(x, y):
        a, b = x * y, x + y
        return (a, b, x, y)[which[0]]
    g = pdx.grad(f, argnums=(0, 1))
    for _ in range(3):
        for w in (0, 1, 2, 3, 1, 0):
            which[0] = w
            expected = _uncached(lambda: g(2.0, 3.0), monkeypatch)
            assert _bits(g(2.0, 3.0)) == _bits(expected), w


def test_a_warm_grad_function_inside_another_transformation():
    gi = pdx.grad(lambda x, y: x * y * y)
    for _ in range(3):
        assert gi(2.0, 3.0) == 9.0
    assert pdx.grad(lambda y: gi(2.0, y))(3.0) == 6.0
    assert pdx.jvp(lambda y: gi(2.0, y), (3.0,), (1.0,)) == (9.0, 6.0)
    assert gi(2.0, 3.0) == 9.0


def test_a_warm_grad_function_under_debug_nans():
    g = pdx.grad(lambda x: pnp.log(x) * 2.0)
    for _ in range(3):
        assert g(2.0) == 1.0
    with pdx.debug_nans():
        with pytest.raises(FloatingPointError, match="test_eager_fast.py"):
            g(-1.0)
    assert g(2.0) == 1.0


def test_repeated_float_calls_run_f_once_each_and_close_their_trace():
    """The repeated-trace path on Python floats: f runs exactly once per call, and a
    tracer leaked from any call is an escaped tracer afterwards."""
    leaked = []

    def f(x, y):
        leaked.append(x)
        return x * y + x ** 2

    g = pdx.grad(f, argnums=(0, 1))
    for k in range(4):
        assert g(1.0 + k, 2.0) == (2.0 + 2 * (1.0 + k), 1.0 + k)
        assert len(leaked) == k + 1
    for t in leaked:
        with pytest.raises(pdx.EscapedTracerError):
            t + 1.0


# -- the warm call on Python floats (api._repeat_call) -------------------------------------------

def test_warm_float_calls_build_no_graph(monkeypatch):
    """A warm call on Python floats that repeats the last trace runs its program without
    finishing a Graph; any other call finishes one (and gives the per-call result)."""
    finished = []
    finish = trace.Builder.finish

    def counting(self, invars, outs):
        finished.append(1)
        return finish(self, invars, outs)
    monkeypatch.setattr(trace.Builder, "finish", counting)
    g = pdx.grad(lambda x, y: x ** 2 + 3 * x * y, argnums=(0, 1))
    for _ in range(2):
        g(1.0, 2.0)
    finished.clear()
    assert g(0.5, -1.25) == (-2.75, 1.5)
    assert g(2.0, 2.0) == (10.0, 6.0)
    assert not finished
    assert g(np.float64(1.0), 2.0) == (8.0, 3.0)        # not a Python float: the general path
    assert len(finished) == 1


def test_control_flow_that_changes_on_every_call(monkeypatch):
    """A trace that departs from the last one at any point (first, middle or last
    equation, the output, a literal, a parameter) gives the per-call result."""
    def f(x, y):
        a = x * y
        if x > 0:
            a = a + x ** 2                    # departs in the middle
        b = a * (2.0 if y > 0 else 3.0)       # a literal that depends on a value
        if x > y:
            return b * y                      # departs at the last equation
        if x == y:
            return a                          # another output
        return pnp.sin(b) ** (2 if x < -1 else 3)
    g = pdx.grad(f, argnums=(0, 1))
    vg = pdx.value_and_grad(f, argnums=(0, 1))
    points = [(1.0, 2.0), (-1.5, 2.0), (1.0, -2.0), (3.0, 2.0), (2.0, 2.0), (-2.0, 1.0), (1.0, 2.0)]
    for _ in range(3):
        for x, y in points + points[::-1]:
            expected = _uncached(lambda: g(x, y), monkeypatch)
            assert _bits(g(x, y)) == _bits(expected), (x, y)
            value, grads = vg(x, y)
            assert _bits(grads) == _bits(expected) and _bits(value) == _bits(float(f(x, y))), (x, y)


def test_argument_types_on_a_warm_grad_function(monkeypatch):
    """After warm calls on Python floats, other argument types give the per-call results
    (types and dtypes included): ints, NumPy scalars, float32, 0-d arrays."""
    def f(x, y):
        return x ** 2 * y + x * 3.0 - y ** 3
    g = pdx.grad(f, argnums=(0, 1))
    args = [(1.5, 2.0), (1, 2.0), (np.float64(1.5), 2.0), (1.5, np.float64(2.0)), (np.float32(1.5), 2.0),
            (np.float32(1.5), np.float32(2.0)), (np.array(1.5), 2.0), (1.5, np.array(2.0)), (2, 3),
            (1.5, 2.0)]
    for _ in range(3):
        for x, y in args:
            expected = _uncached(lambda: g(x, y), monkeypatch)
            got = g(x, y)
            assert _bits(got) == _bits(expected), (x, y)
        with pytest.raises(TypeError):
            g(True, 2.0)
        assert g(1.5, 2.0) == (9.0, -9.75)
    assert type(g(1.5, 2.0)[0]) is float and g(np.float32(1.5), np.float32(2.0))[0].dtype == np.float32


@pytest.mark.parametrize("argnums", [0, 1, (0,), (1,), (0, 1), (1, 0), (-2, -1), -1, (0, 0)])
def test_argnums_on_warm_calls(argnums, monkeypatch):
    def f(x, y):
        return x * y * y + x ** 2
    g = pdx.grad(f, argnums=argnums)
    vg = pdx.value_and_grad(f, argnums=argnums)
    for _ in range(3):
        for x, y in [(1.5, 2.0), (-0.5, 3.0), (1.5, 2.0)]:
            expected = _uncached(lambda: g(x, y), monkeypatch)
            assert _bits(g(x, y)) == _bits(expected), (argnums, x, y)
            value, grads = vg(x, y)
            assert _bits(grads) == _bits(expected) and value == f(x, y)


def test_one_argument_and_defaults_alternate(monkeypatch):
    """A grad function called with one and then two arguments: argnums normalizes per
    arity, and each call's trace is checked against the last one's."""
    def f(x, y=2.0):
        return x * y + x ** 2
    for argnums in (0, (0,)):
        g = pdx.grad(f, argnums=argnums)
        for _ in range(3):
            for args in [(1.5,), (1.5, 3.0), (1.5, 2.0), (-1.0,)]:
                expected = _uncached(lambda: g(*args), monkeypatch)
                assert _bits(g(*args)) == _bits(expected), (argnums, args)


def test_powers_of_every_argument_type(monkeypatch):
    """x ** 2 is computed as x * x on float64 scalars: bitwise what NumPy computes, and
    the same types for other inputs (float32, 0-d and 1-d arrays)."""
    def f(x):
        return pnp.sum(x ** 2 + x ** 3 * 0.5 + x ** 1 + x ** 0)
    g = pdx.grad(f)
    vg = pdx.value_and_grad(f)
    values = [1.5, -0.0, 1e200, 1e-200, np.inf, -np.inf, np.nan, np.float32(1.5), np.float32(1e30),
              np.array(1.5), np.array([1.5, -2.0]), np.array([1e200], np.float32), 3.0]
    with np.errstate(all="ignore"):
        for _ in range(3):
            for x in values:
                expected = _uncached(lambda: vg(x), monkeypatch)
                assert _bits(vg(x)) == _bits(expected), x
                assert _bits(g(x)) == _bits(expected[1]), x


def test_a_grad_function_called_inside_itself():
    """A warm grad function whose ``f`` calls it again (its traces share the last
    trace's variables, each in its own Builder)."""
    depth = [0]

    def f(x, y):
        if depth[0] == 0:
            depth[0] += 1
            try:
                inner = g(2.0, 3.0)          # (9.0, 12.0): on floats, not on the tracers
            finally:
                depth[0] -= 1
            return x * y * y * inner[0] + y * inner[1]
        return x * y * y
    g = pdx.grad(f, argnums=(0, 1))
    for _ in range(4):
        assert g(1.0, 2.0) == (36.0, 48.0)
        assert g(2.0, 3.0) == (81.0, 120.0)


def test_repeat_checks_every_parameter():
    """An equation repeats another only with the same parameters: same names, same
    values (a missing name is not a None value)."""
    from partiald.core.graph import F64_SCALAR
    from partiald.core.primitive import Primitive
    p = Primitive("test_param_p", impl=lambda x, **params: x * 2.0, abstract_eval=lambda x, **params: x)

    def trace_once(params, expect=None):
        b = trace.Builder("test")
        if expect is not None:
            b.replay(expect)
        t = b.new_arg(F64_SCALAR, np.float64(1.0))
        out = b.process(p, (t,), params)
        return b, b.finish([t._var], [out])
    _, graph = trace_once({"a": None})
    for params, same in [({"a": None}, True), ({"b": None}, False), ({"a": 0}, False), ({}, False),
                         ({"a": None, "b": None}, False)]:
        b, g = trace_once(params, expect=graph)
        assert b.repeated is same, params
        assert g.eqns[0].params == params
    _, graph = trace_once({"n": 2})
    for params, same in [({"n": 2}, True), ({"n": 2.0}, False), ({"n": True}, False), ({"m": 2}, False)]:
        b, g = trace_once(params, expect=graph)
        assert b.repeated is same, params


def test_generated_code_for_grads_seed(monkeypatch):
    """The generated Python-float code of a warm grad function has the seed cotangent
    compiled in, and gives the NumPy program's results bitwise."""
    g = pdx.grad(lambda x, y: x * y * 2.5 + (x - y) * 0.0 + y, argnums=(0, 1))
    for _ in range(3):
        g(1.0, 2.0)
    state = next(c.cell_contents for c in g.__closure__ if isinstance(c.cell_contents, api._GradState))
    code = state.last.seeded
    assert code is not None and "1.0" in code.source and code.__code__.co_argcount == len(state.last.needed)
    with np.errstate(all="ignore"):
        for x, y in POINTS:
            expected = _uncached(lambda: g(x, y), monkeypatch)
            assert _bits(g(x, y)) == _bits(expected), (x, y)


def test_a_tracer_leaked_from_an_earlier_call_is_not_this_calls_input():
    """Each call's tracers stand for the last trace's variables, in its own Builder: a
    tracer kept from an earlier call is an escaped tracer in a later one, never taken
    for that call's input of the same variable."""
    kept = []

    def f(x, y):
        kept.append(x)
        return (kept[3] if len(kept) > 5 else x) * y
    g = pdx.grad(f, argnums=(0, 1))
    for k in range(5):
        assert g(1.5 + k, 2.0) == (2.0, 1.5 + k)
    with pytest.raises(pdx.EscapedTracerError):
        g(7.0, 2.0)           # with the fourth call's x (a warm call's: the same variable)


def test_seeded_code_keeps_safe_mul_where_it_matters():
    """grad's Python-float code: the seed cotangent becomes the literal 1.0, and only a
    safe_mul by a finite nonzero literal becomes a product (0 * inf is 0 only in
    safe_mul); its results are the NumPy program's bit for bit."""
    from partiald.core.graph import F64_SCALAR, Eqn, Graph, Lit, Var
    from partiald.core.interpret import interpret
    from partiald.ops import elementwise as ew
    a, ct = Var(F64_SCALAR), Var(F64_SCALAR)
    lits = [0.0, -0.0, 0, np.inf, -np.inf, 2.5, -3, np.float64(0.5)]
    outs = [Var(F64_SCALAR) for _ in lits]
    eqns = [Eqn(ew.safe_mul_p, [a, Lit(v)], {}, o) for v, o in zip(lits, outs)]
    last = Var(F64_SCALAR)
    eqns.append(Eqn(ew.safe_mul_p, [a, ct], {}, last))
    bwd = Graph([a, ct], [], [], eqns, [*outs, last, ct])
    code = staged.Program(bwd, 1, [True], staged.SEED_SIG, True).seeded()
    assert code is not None and code.__code__.co_argcount == 1
    products = [ln.split(" = ", 1)[1] for ln in code.source.splitlines() if ln.strip().startswith("_v")]
    assert [p.startswith("_smul(") for p in products] == [True] * 5 + [False] * 4
    assert products[-1] == "(_a0 * 1.0)" and code.source.rstrip().endswith(", 1.0)")
    for x in (1.5, 0.0, -0.0, -2.0, np.inf):
        with np.errstate(all="ignore"):
            expected = [float(v) for v in interpret(bwd, np.float64(x), np.float64(1.0))]
        assert _bits(list(code(np.float64(x)))) == _bits(expected), x


def test_float_code_leaves_nans_and_exceptions_to_numpy():
    """Python-float code returns None (NumPy decides) for a NaN result or where Python
    raises (1/0), and has no code for inexact primitives (libm functions)."""
    from partiald.core.graph import F64_SCALAR, Eqn, Graph, Var
    from partiald.ops import elementwise as ew
    a, b, q = Var(F64_SCALAR), Var(F64_SCALAR), Var(F64_SCALAR)
    fn = staged._float_code(Graph([a, b], [], [], [Eqn(ew.div_p, [a, b], {}, q)], [q, None]), "_t")
    assert fn(np.float64(3.0), 2.0) == (1.5, None)
    assert fn(1.0, 0.0) is None and fn(np.nan, 1.0) is None
    e = Var(F64_SCALAR)
    assert staged._float_code(Graph([a], [], [], [Eqn(ew.exp_p, [a], {}, e)], [e]), "_t") is None
