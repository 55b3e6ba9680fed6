"""compile/staged.py: the float forms made from the primitives' ``python`` lowerings,
and the Builder's public replay (issue 15, item 4).

A float form replaces a NumPy call only where it gives NumPy's result bit for bit:
every record that says its lowering is ``exact`` must pass the check on special
values, and a trace computed with float forms is the trace computed by ``impl``.
"""
import ast
import math
import pathlib

import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald.compile import staged
from partiald.core import trace
from partiald.core.graph import F64_SCALAR

from primitive_specs import PRIMITIVE_SPECS

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "partiald"


def _exact_equations():
    """``(prim, params, n_args)`` of every equation with an exact ``python`` lowering
    in the traces of the sampled primitive cases."""
    seen = {}
    for name, spec in sorted(PRIMITIVE_SPECS.items()):
        for case in spec.cases(seeds=(0,)):
            try:
                with np.errstate(all="ignore"):
                    graph = pdx.make_graph(case.fn)(*case.primals)
            except Exception:
                continue
            for e in graph.eqns:
                names = ["x", "y", "z"][:len(e.inputs)]
                if e.prim.exact and "python" in e.prim.lowerings and staged._exact(e.prim, e.params) \
                        and staged._python_expr(e.prim, names, e.params) is not None:
                    seen.setdefault((e.prim.name, repr(sorted(e.params.items())), len(e.inputs)),
                                    (e.prim, e.params, len(e.inputs)))
    return [seen[k] for k in sorted(seen)]


EXACT = _exact_equations()


def test_the_sweep_sees_the_common_exact_primitives():
    names = {p.name for p, _, _ in EXACT}
    assert {"add", "sub", "mul", "div", "neg", "select", "compare", "integer_pow"} <= names


@pytest.mark.parametrize("prim, params, n", EXACT, ids=[f"{p.name}{sorted(q.items())}" for p, q, _ in EXACT])
def test_exact_lowerings_are_exact(prim, params, n):
    """A record saying its ``python`` lowering is exact: the lowering computes NumPy's
    result bit for bit on every combination of special values (zeros of both signs,
    infinities, NaN, subnormals, huge values) wherever it neither raises nor gives a
    NaN. (A NaN operand lost by a comparison, as in ``x if x > y else y`` for maximum,
    is not exact.) The check in ``staged._float_form`` would otherwise leave the
    primitive to NumPy: correct, but slow, and the record would be wrong."""
    staged._FORMS.clear()
    assert staged._float_form(prim, params, n) is not None, \
        f"'{prim.name}' {params}: its python lowering {prim.lowerings['python'](['x', 'y', 'z'][:n], params)!r} " \
        "is marked exact but differs from NumPy on special values"


SPECIAL = [0.0, -0.0, 1.5, -2.25, math.inf, -math.inf, math.nan, -math.nan, 5e-324, 1e308]


def _bits(x):
    return type(x), np.asarray(x).dtype, np.asarray(x).tobytes()


@pytest.mark.parametrize("prim, params, n", [e for e in EXACT if e[2] <= 2],
                         ids=[f"{p.name}{sorted(q.items())}" for p, q, n in EXACT if n <= 2])
def test_float_ops_on_numpy_scalars_are_impl(prim, params, n):
    """What a Builder records with ``float_op`` on float64 scalars (and Python numbers)
    is what ``prim.impl`` gives: the same type and bits (NaN sign and payload too)."""
    f = np.float64
    if n == 1:
        combos = [(f(x),) for x in SPECIAL]
    else:
        combos = [c for x in SPECIAL for y in SPECIAL for c in ((f(x), f(y)), (f(x), y), (x, f(y)))]
    with np.errstate(all="ignore"):
        for args in combos:
            b = trace.Builder("test", staged.float_op)
            tracers = [b.new_arg(F64_SCALAR, a) if type(a) is f else a for a in args]
            out = b.process(prim, tracers, params)
            assert _bits(b.value_of(out._var)) == _bits(prim.impl(*args, **params)), args


def test_maximum_of_a_nan_is_nan_on_every_path():
    vg = pdx.value_and_grad(lambda x, y: pnp.maximum(x, y) * 2.0 + pnp.minimum(y, x), argnums=(0, 1))
    for _ in range(3):
        value, _ = vg(math.nan, 1.0)
        assert math.isnan(value)
        assert vg(1.0, 2.0)[0] == 5.0


def test_replay_is_the_public_way_to_repeat_a_trace():
    """Builder.replay / repeated_output: a trace repeating the last one reuses its
    variables and needs no new Graph; one that departs records its own equations."""
    def f(x, y):
        return x * y + x ** 2

    def trace_once(x, last=None, plans=None):
        b = trace.Builder("test", staged.float_op)
        if last is not None:
            tracers = b.replay(last, plans, (np.float64(x), np.float64(2.0)))
        else:
            tracers = [b.new_arg(F64_SCALAR, np.float64(v)) for v in (x, 2.0)]
        out = f(*tracers) if x > 0 else tracers[0] - tracers[1]
        return b, out, tracers
    b, out, tracers = trace_once(1.0)
    graph = b.finish([t._var for t in tracers], [out])
    plans = staged.replay_plans(graph)
    b, out, _ = trace_once(3.0, graph, plans)
    assert b.repeated_output(out) and b.repeated and b.values[graph.outvars[0]] == 15.0
    with pytest.raises(pdx.EscapedTracerError):
        out + 1.0
    b, out, tracers = trace_once(-1.0, graph, plans)
    assert not b.repeated_output(out)
    g = b.finish([t._var for t in tracers], [out])
    assert not b.repeated and [e.prim.name for e in g.eqns] == ["sub"]
    with pytest.raises(ValueError, match="before"):
        b = trace.Builder("test")
        b.new_arg(F64_SCALAR, np.float64(1.0))
        b.replay(graph)


def test_literal_keys_are_exact():
    key = trace.literal_key
    assert key(0.0) != key(-0.0) and key(1) != key(1.0) != key(True)
    assert key(np.float64(np.nan)) == key(np.float64(np.nan)) != key(-np.float64(np.nan))
    assert key((1, 2.5)) == key((1, 2.5)) and key((1, [2])) is None
    assert key(np.ones(3)) is None and key(np.ones(3), 3) == key(np.ones(3), 3) != key(np.ones(3, np.float32), 3)
    assert trace.same_literal(np.dtype("f8"), np.dtype("f8")) and not trace.same_literal(np.ones(1), np.ones(1))


_PRIVATE = {"_cursor", "_n_expect", "_expect", "_plans", "_n_args", "_stop_repeating", "_float_op"}


def test_no_module_touches_builder_privates():
    """Replaying goes through Builder.replay / repeated_output only."""
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        if path.relative_to(SRC).as_posix() == "core/trace.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in _PRIVATE:
                bad.append(f"{path.relative_to(SRC)}:{node.lineno}: .{node.attr}")
    assert bad == []
