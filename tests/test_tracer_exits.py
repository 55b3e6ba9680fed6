"""A floating-point traced value never leaves the trace silently (issue 12, item 1).

A value converted to a plain number (``float(x)``, ``math.exp(x)``, ``x.item()``,
``np.float64(x)``, ``np.asarray(x)``...) becomes a constant, so its derivative would
silently be 0. Every such exit raises ``TracerConversionError`` naming what was
called, the fix and the user's line, under every transformation. Integer and bool
traced values carry no derivative and may still convert; control flow on values and
formatting for display stay allowed.
"""
import array
import math
import re
import struct

import numpy as np
import pytest

import partiald as pdx
import partiald.nn as nn
import partiald.numpy as pnp
from partiald import TracerConversionError, expr


# -- the exits ---------------------------------------------------------------------------
# name -> (f of a scalar x, regex the message must match: what was called and the fix)

EXITS = {
    "float": (lambda x: float(x) * x, r"float\(\)"),
    "complex": (lambda x: complex(x).real * x, r"complex\(\)"),
    "int": (lambda x: int(x) * x, r"int\(\)"),
    "math.exp": (lambda x: math.exp(x) * x, r"math\.exp .*pnp\.exp"),
    "math.log": (lambda x: math.log(x) + x, r"pnp\.log\b"),
    "math.sqrt": (lambda x: math.sqrt(x) * x, r"pnp\.sqrt"),
    "math.sin": (lambda x: math.sin(x) + x, r"pnp\.sin"),
    "math.atan2": (lambda x: math.atan2(x, 1.0) + x, r"pnp\.arctan2"),
    "math.pow": (lambda x: math.pow(x, 3.0) + x, r"pnp\.power"),
    "math.fabs": (lambda x: math.fabs(x) + x, r"pnp\.abs"),
    "math.isnan": (lambda x: x * (0.0 if math.isnan(x) else 1.0), r"pnp\.isnan"),
    "math.fsum": (lambda x: math.fsum([x, x]) + x, r"pnp\.sum"),
    # a math function partiald.numpy has no counterpart for: no pnp name is invented
    "math.ulp": (lambda x: math.ulp(x) + x, r"partiald\.numpy has no ulp yet"),
    "item": (lambda x: x.item() * x, r"item\(\).*use the traced value itself"),
    "tolist": (lambda x: pnp.reshape(x, (1,)).tolist()[0] * x, r"tolist\(\)"),
    "np.float64": (lambda x: np.float64(x) * x, r"np\.asarray\(\).*pnp\.astype\(x, np\.float64\)"),
    "np.float32": (lambda x: np.float32(x) * x, r"pnp\.astype\(x, np\.float32\)"),
    "np.asarray": (lambda x: np.asarray(x) * x, r"np\.asarray\(\).*pnp\.asarray"),
    "np.array": (lambda x: pnp.sum(np.array([x, x])) * x, r"np\.asarray\(\)"),
    "array.array": (lambda x: array.array("d", [x])[0] * x, r"float\(\).*pack or store only"),
    "sigmoid-by-math": (lambda z: 1 / (1 + math.exp(-z)), r"pnp\.exp"),
}


def _apply(transform, f):
    """``transform`` applied to ``f`` at a point where every exit's value is defined."""
    x, v = 0.7, 0.3
    a = np.array([0.7, 0.4])
    vec = lambda w: f(w[0]) + f(w[1])             # noqa: E731
    return {
        "grad": lambda: pdx.grad(f)(x),
        "value_and_grad": lambda: pdx.value_and_grad(f)(x),
        "jvp": lambda: pdx.jvp(f, (x,), (v,)),
        "vjp": lambda: pdx.vjp(f, x)[1](1.0),
        "linearize": lambda: pdx.linearize(f, x)[1](v),
        "jacfwd": lambda: pdx.jacfwd(vec)(a),
        "jacrev": lambda: pdx.jacrev(vec)(a),
        "jacobian": lambda: pdx.jacobian(vec)(a),
        "hessian": lambda: pdx.hessian(vec)(a),
        "hvp": lambda: pdx.hvp(vec, (a,), (a,)),
        "hessian_diag": lambda: pdx.hessian_diag(vec)(a),
        "laplacian": lambda: pdx.laplacian(vec)(a),
        "grad-of-grad": lambda: pdx.grad(pdx.grad(f))(x),
        "jit": lambda: pdx.jit(f)(x),
        "jit-grad": lambda: pdx.jit(pdx.grad(f))(x),
        "vmap": lambda: pdx.vmap(f)(a),
        "vmap-grad": lambda: pdx.vmap(pdx.grad(f))(a),
        "check_grads": lambda: pdx.check_grads(f, (x,), order=1),
        "expr": lambda: expr(lambda x: f(x)),
    }[transform]


TRANSFORMS = ["grad", "value_and_grad", "jvp", "vjp", "linearize", "jacfwd", "jacrev", "jacobian",
              "hessian", "hvp", "hessian_diag", "laplacian", "grad-of-grad", "jit", "jit-grad", "vmap",
              "vmap-grad", "check_grads", "expr"]


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("exit_name", list(EXITS))
def test_every_float_exit_raises_under_every_transformation(exit_name, transform):
    f, _ = EXITS[exit_name]
    with pytest.raises(TracerConversionError, match="cannot be converted to a plain number"):
        _apply(transform, f)()


@pytest.mark.parametrize("exit_name", list(EXITS))
def test_the_message_names_the_call_the_fix_and_the_line(exit_name):
    f, pattern = EXITS[exit_name]
    with pytest.raises(TracerConversionError) as info:
        pdx.grad(f)(0.7)
    msg = str(info.value)
    assert re.search(pattern, msg, re.S), msg
    assert "derivative would silently be 0" in msg
    # the user's own line (this file), not partiald's or NumPy's
    assert re.search(r"test_tracer_exits\.py:\d+: ", msg), msg


def test_struct_pack_of_a_traced_float_is_not_silent():
    # struct replaces the TracerConversionError raised by __float__ with its own error
    with pytest.raises((TracerConversionError, struct.error)):
        pdx.grad(lambda x: struct.unpack("d", struct.pack("d", x))[0] * x)(0.7)


def test_issue_examples_raise_instead_of_returning_zero():
    with pytest.raises(TracerConversionError, match=r"math\.exp.*pnp\.exp"):
        pdx.grad(lambda x: math.exp(x))(1.0)
    with pytest.raises(TracerConversionError, match=r"pnp\.exp"):
        pdx.grad(lambda z: 1 / (1 + math.exp(-z)))(0.0)
    for f in (lambda x: float(x) * x, lambda x: np.float64(x) * x, lambda x: x.item() * x):
        with pytest.raises(TracerConversionError):
            pdx.grad(f)(2.0)
    # the fixes the messages point to give the right values
    assert pdx.grad(lambda x: pnp.exp(x))(1.0) == pytest.approx(math.e, rel=1e-15)
    assert pdx.grad(lambda z: 1 / (1 + pnp.exp(-z)))(0.0) == pytest.approx(0.25, rel=1e-15)
    assert pdx.grad(lambda x: x * x)(2.0) == 4.0


def test_float32_and_array_tracers_raise_too():
    x32 = np.array([0.5, 1.5], dtype=np.float32)
    with pytest.raises(TracerConversionError, match=r"f32\[\]"):
        pdx.grad(lambda w: pnp.sum(w) * float(w[0]))(x32)
    with pytest.raises(TracerConversionError, match=r"f64\[2\]"):
        pdx.grad(lambda w: pnp.sum(np.asarray(w)))(np.array([1.0, 2.0]))
    with pytest.raises(TracerConversionError):
        pdx.grad(lambda w: pnp.sum(w) * sum(w.tolist()))(np.array([1.0, 2.0]))


def test_an_exit_inside_an_inner_derivative_raises():
    # the inner tracer's value is itself a tracer of the outer trace
    with pytest.raises(TracerConversionError):
        pdx.grad(lambda x: pdx.grad(lambda y: float(y * x) * y)(1.0))(2.0)


def test_nn_and_pnp_code_never_exits():
    # the library's own composites keep values traced (softplus, logsumexp, losses...)
    X = np.random.default_rng(0).normal(size=(8, 3))
    y = np.arange(8) % 3

    def loss(w):
        logits = X @ w
        return nn.cross_entropy(logits, y) + pnp.sum(nn.softplus(logits)) * 1e-3 + pnp.linalg.norm(w)

    w = np.random.default_rng(1).normal(size=(3, 3))
    pdx.check_grads(loss, (w,), order=2)


# -- what stays allowed --------------------------------------------------------------------

def test_integer_and_bool_tracers_convert():
    def f(x):
        k = int(pnp.argmax(pnp.stack([x, 2 * x, 0 * x])))      # an int tracer: an index
        n = pnp.sum(pnp.greater(pnp.stack([x, -x]), 0)).item()  # a count
        return x * (k + 1) + n * x
    # x > 0: argmax = 1, one positive entry: f = 2x + x
    assert pdx.grad(f)(1.5) == 3.0
    assert bool(pdx.vmap(lambda x: x > 0)(np.array([1.0]))[0]) is True


def test_control_flow_on_values_outside_jit():
    def f(x):
        if x > 0:
            return x ** 2
        return pnp.sin(x)
    assert pdx.grad(f)(3.0) == 6.0
    assert pdx.grad(f)(-1.0) == pytest.approx(math.cos(-1.0), rel=1e-15)
    with pytest.raises(TracerConversionError, match=r"pnp\.where"):
        pdx.jit(f)(3.0)


def test_format_for_display_is_allowed():
    shown = []

    def f(x):
        shown.append(f"loss={x * x:.3f}")
        return x * x
    assert pdx.grad(f)(1.5) == 3.0
    assert shown == ["loss=2.250"]
    with pytest.raises(TracerConversionError):
        pdx.jit(lambda x: (f"{x:.3f}", x)[1])(1.5)


def test_round_floor_ceil_trunc_stay_traced_with_derivative_zero():
    for fn, at, value in [(round, 2.6, 3.0), (math.floor, 2.6, 2.0), (math.ceil, 2.2, 3.0),
                          (math.trunc, -2.6, -2.0), (math.trunc, 2.6, 2.0)]:
        val, g = pdx.value_and_grad(lambda x: fn(x) + 0.0 * x)(at)
        assert val == value and g == 0.0, fn
    assert pdx.grad(lambda x: round(x, 1) * x)(1.26) == pytest.approx(1.3, rel=1e-15)
