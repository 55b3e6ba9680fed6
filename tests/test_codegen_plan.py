"""Codegen plans, then prints (issue 15 item 6): the generated NumPy program is a list of
typed statements (compile/codegen.py) turned into source by one printer; which names
the program assigns is read from the statements, never from the printed text."""
import ast

import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald.compile import codegen, tiling
from partiald.compile.codegen import (Apply, Assign, Call, Continue, Delete, For, Function, If, Item, Return,
                                      Stmt, Store, Tuple)


def rosen(x):
    return pnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _loss(x, w):
    y = pnp.maximum(x * w, w) + pnp.minimum(x * x, w) * x
    z = pnp.where(y > 1.0, y * y, -y)
    return pnp.sum(pnp.sin(z[1:]) * w[:-1]) + pnp.sum(pnp.exp(x[:-2]) * pnp.maximum(w[2:], 0.0))


def _masked(X, v):
    return pnp.where(v < 0.0, 0.0, pnp.sin(X) * v)


def _views(x):
    return pnp.transpose(pnp.reshape(x, (3, 4))), pnp.exp(x)[2:5]


_x = np.linspace(-1.5, 1.7, 12)
_X = np.random.default_rng(3).normal(size=(6, 5))
_v = np.array([1.0, -0.5, 2.0, 3.0, -3.0])
PROGRAMS = [
    ("rosen-grad", pdx.grad(rosen), (_x,)),
    ("loss-grad", pdx.grad(_loss, argnums=(0, 1)), (_x, np.cos(3 * _x))),
    ("masked-where", _masked, (_X, _v)),
    ("masked-where-grad", pdx.grad(lambda X, v: pnp.sum(_masked(X, v) ** 2)), (_X, _v)),
    ("views", _views, (_x,)),
    ("scalar", lambda a, b: pnp.sin(a) * b + a, (np.float64(0.3), np.float64(-2.0))),
    ("hessian", pdx.hessian(lambda x: pnp.sum(pnp.log1p(pnp.exp(x)) * x)), (_x[:4],)),
]


def _ast_assigned(source):
    """Names the printed source binds (assignment and loop targets, functions), from its syntax tree."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, ast.FunctionDef):
            out.add(node.name)
    return out


def _check_deletes(stmts, live):
    """Each ``del`` releases names an earlier statement bound and that are still bound."""
    for s in stmts:
        if isinstance(s, Delete):
            assert set(s.names) <= live, (s, live)
            live -= set(s.names)
        elif isinstance(s, (If, For)):
            _check_deletes(s.body, live | set(s.binds()))
        live |= set(s.binds())


@pytest.mark.parametrize("name, f, args", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_plan_and_printed_source_agree(name, f, args):
    graph, _ = pdx.jit(f).lower(*args)
    fn, ns = codegen.graph_to_plan(graph, "_planned")
    source = codegen.print_source(fn)
    assert source == codegen.graph_to_source(graph, "_planned", tile=False)[0]
    assert _ast_assigned(source) == set(codegen.assigned([fn])) | set(codegen.assigned(fn.body)), source
    _check_deletes(fn.body, set(fn.params))
    assert isinstance(fn.body[-1], Return)
    assert not any(isinstance(a, Delete) and isinstance(b, Delete) for a, b in zip(fn.body, fn.body[1:])), source
    codegen._run(source, ns)
    got, want = ns["_planned"](*args), pdx.jit(f)(*args)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_buffer_reuse_is_in_the_plan():
    """Rosenbrock's gradient: dying temporaries are ``out=`` buffers, one scatter is computed
    into the gradient buffer's slice and the other accumulates there (``+=``)."""
    x = np.linspace(-1, 1.5, 50)
    graph, _ = pdx.jit(pdx.grad(rosen)).lower(x)
    fn, _ = codegen.graph_to_plan(graph)
    calls = [s for s in fn.body if isinstance(s, Call)]
    assert any(isinstance(s.out, str) for s in calls)             # a dying intermediate reused
    assert any(isinstance(s.out, Item) for s in calls)            # written into a slice of the buffer
    assert [s.fn for s in calls].count("_np.empty") == 1
    assert any(isinstance(s, Store) and s.add for s in fn.body)
    assert any(isinstance(s, Delete) for s in fn.body)


def test_tiled_plan_and_source_agree():
    x = np.random.default_rng(8).uniform(-1, 1, 30)
    with tiling.forced(7):
        graph, source = pdx.jit(pdx.value_and_grad(rosen)).lower(x)
        region = tiling.find_region(graph)
        assert region is not None and region.chain
        fn, ns, parts = codegen._tiled_plan(graph, region, "_tiled")
        printed = codegen.print_source(fn)
        assert _ast_assigned(printed) == set(codegen.assigned([fn])) | set(codegen.assigned(fn.body))
        assert any(isinstance(s, For) for s in fn.body)
        codegen._run(printed, ns)
        v, g = ns["_tiled"](x)
    want_v, want_g = pdx.value_and_grad(rosen)(x)
    np.testing.assert_array_equal(g, want_g)
    assert v == pytest.approx(want_v, rel=1e-14)


# one of each statement (and expression) type, and the text it prints as
SAMPLES = [
    (Assign("_v0", "_a0"), "_v0 = _a0"),
    (Assign("_v1", Item("_a0", "1:,")), "_v1 = _a0[1:,]"),
    (Call("_v2", "_np.multiply", ("_v1", "2.0")), "_v2 = _np.multiply(_v1, 2.0)"),
    (Call("_v3", "_np.add", ("_v2", "_v1"), out="_v2"), "_v3 = _np.add(_v2, _v1, out=_v2)"),
    (Call("_v4", "_np.sin", ("_v3",), out=Item("_v9", ":-1,")), "_v4 = _np.sin(_v3, out=_v9[:-1,])"),
    (Call(None, "_np.copyto", ("_v3", "0.0"), kwargs=(("casting", "'same_kind'"), ("where", "_v5"))),
     "_np.copyto(_v3, 0.0, casting='same_kind', where=_v5)"),
    (Store("_v9", "-1:,", "0"), "_v9[-1:,] = 0"),
    (Store("_v9", ":-1,", "_v4", add=True), "_v9[:-1,] += _v4"),
    (Delete(("_v1", "_v2")), "del _v1, _v2"),
    (If(Apply("_v5.any"), (Call(None, "_f", ()),)), "if _v5.any(): _f()"),
    (If("_lo < _hi", (Assign("_x", "1"), Continue())), "if _lo < _hi:\n    _x = 1\n    continue"),
    (For("_r0", Apply("_range", (0, np.int64(9), 4)), (Call("_o", "_tile", (Item(Item("_q", "0"), "_r0:_r1"),)),)),
     "for _r0 in _range(0, 9, 4):\n    _o = _tile(_q[0][_r0:_r1])"),
    (Continue(), "continue"),
    (Return(Tuple(("_v9",))), "return (_v9,)"),
    (Return(Tuple((Apply("_np.array", ("_v1",)), "0.0"))), "return (_np.array(_v1), 0.0)"),
    (Return("_r"), "return _r"),
    (Function("_f", ("_a0", "_a1"), (Return(Tuple(("_a1", "_a0"))),)), "def _f(_a0, _a1):\n    return (_a1, _a0)"),
]


def test_every_statement_type_prints():
    types = {type(s) for s, _ in SAMPLES}
    assert types == set(Stmt.__subclasses__()), set(Stmt.__subclasses__()) - types
    for stmt, text in SAMPLES:
        assert codegen.print_source(stmt) == text + "\n"
    body = tuple(s for s, _ in SAMPLES if not isinstance(s, (Continue, Function)))
    program = codegen.print_source(Function("_all", ("_a0",), body))
    tree = ast.parse(program)                                      # the printed program is Python
    assert _ast_assigned(program) == {"_all"} | set(codegen.assigned(body)), program
    assert isinstance(tree.body[0], ast.FunctionDef) and len(tree.body[0].body) == len(body)


def test_printer_refuses_what_it_does_not_know():
    with pytest.raises(TypeError):
        codegen.print_source([Assign("_v0", object())])
    with pytest.raises(TypeError):
        codegen.print_source([object()])
