"""autograd's public API, spelled as partiald calls (an adapter for running
HIPS/autograd's published tests against partiald; API renames only).

autograd's ``grad(fun, argnum)(*args)`` is ``partiald.grad(fun, argnums)``;
``make_vjp(fun)(x)`` returns ``(vjp, ans)`` where partiald's ``vjp`` returns
``(ans, vjp)``.  autograd and JAX share the complex convention (the VJP pairs
by ``Re(sum(a * b))``), so nothing is conjugated here.
"""
import builtins as _builtins
from collections import OrderedDict as _OrderedDict
import inspect as _inspect

import numpy as _onp

import partiald as _pdx
import partiald.numpy as _pnp

from . import numpy  # noqa: F401
from .builtins import dict, isinstance, list, tuple, type  # noqa: F401,A004


def _nary(unary):
    """autograd's argnum convention: the operator sees one argument ``x``
    (a tuple when ``argnum`` is a tuple) and a function of it."""
    def operator(fun, argnum=0, *op_args, **op_kwargs):
        def nary_f(*args, **kwargs):
            def unary_f(x):
                sub = _builtins.list(args)
                if _builtins.isinstance(argnum, int):
                    sub[argnum] = x
                else:
                    for i, xi in zip(argnum, x):
                        sub[i] = xi
                return fun(*sub, **kwargs)
            unary_f.__name__ = getattr(fun, "__name__", "f")
            x = args[argnum] if _builtins.isinstance(argnum, int) else _builtins.tuple(args[i] for i in argnum)
            return unary(unary_f, x, *op_args, **op_kwargs)
        nary_f.__name__ = getattr(fun, "__name__", "f")
        return nary_f
    operator.__name__ = unary.__name__
    return operator


def _ones_like(y):
    return _pdx.tree_map(_pnp.ones_like, y)


def _zeros_like(y):
    return _pdx.tree_map(_pnp.zeros_like, y)


def _make_vjp(fun, x):
    ans, vjp_fn = _pdx.vjp(fun, x)
    return (lambda g: vjp_fn(g)[0]), ans


def _make_jvp(fun, x):
    def jvp(v):
        return _pdx.jvp(fun, (x,), (v,))
    return jvp


make_vjp = _nary(_make_vjp)
make_jvp = _nary(_make_jvp)


def _scalar_out(ans):
    dtype = ans.dtype if hasattr(ans, "dtype") else _onp.asarray(ans).dtype
    if _pnp.size(ans) != 1 or _onp.dtype(dtype).kind != "f":
        raise TypeError("Grad only applies to real scalar-output functions. "
                        "Try jacobian, elementwise_grad or holomorphic_grad.")


@_nary
def grad(fun, x):
    vjp, ans = _make_vjp(fun, x)
    _scalar_out(ans)
    return vjp(_ones_like(ans))


@_nary
def elementwise_grad(fun, x):
    vjp, ans = _make_vjp(fun, x)
    return vjp(_ones_like(ans))


@_nary
def deriv(fun, x):
    return _make_jvp(fun, x)(_ones_like(x))[1]


@_nary
def jacobian(fun, x):
    return _pdx.jacobian(fun)(x)


@_nary
def holomorphic_grad(fun, x):
    return _pdx.grad(fun, holomorphic=True)(x)


def grad_named(fun, argname):
    names = _inspect.getfullargspec(fun).args
    return grad(fun, names.index(argname))


@_nary
def hessian(fun, x):
    return _pdx.hessian(fun)(x)


@_nary
def make_hvp(fun, x):
    return _make_vjp(grad(fun), x)


def hessian_tensor_product(fun, argnum=0):
    fun_grad = grad(fun, argnum)

    def vector_dot_grad(*args, **kwargs):
        args, vector = args[:-1], args[-1]
        return _pnp.tensordot(fun_grad(*args, **kwargs), vector, _onp.ndim(vector))
    return grad(vector_dot_grad, argnum)


hessian_vector_product = hessian_tensor_product


def tensor_jacobian_product(fun, argnum=0):
    def vector_dot_fun(*args, **kwargs):
        args, vector = args[:-1], args[-1]
        return _pnp.tensordot(vector, fun(*args, **kwargs), axes=_onp.ndim(vector))
    return jacobian(vector_dot_fun, argnum)


vector_jacobian_product = tensor_jacobian_product


def make_ggnvp(f, g=lambda x: 1.0 / 2 * _pnp.sum(x ** 2, axis=-1), f_argnum=0):
    @_nary
    def _make_ggnvp(f, x):
        f_vjp, f_x = _make_vjp(f, x)
        g_hvp, grad_g_x = _make_vjp(grad(g), f_x)
        f_jvp, _ = _make_vjp(f_vjp, _zeros_like(f_x))

        def ggnvp(v):
            return f_vjp(g_hvp(f_jvp(v)))
        return ggnvp
    return _make_ggnvp(f, f_argnum)


@_nary
def value_and_grad(fun, x):
    vjp, ans = _make_vjp(fun, x)
    _scalar_out(ans)
    return ans, vjp(_ones_like(ans))


@_nary
def grad_and_aux(fun, x):
    g, aux = _pdx.grad(fun, has_aux=True)(x)
    return g, aux


def multigrad_dict(fun):
    sig = _inspect.signature(fun)

    def gradfun(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        names = _builtins.list(bound.arguments)

        def f_of_dict(d):
            b = sig.bind(*args, **kwargs)
            b.arguments.update(d)
            return fun(*b.args, **b.kwargs)
        g = _pdx.grad(f_of_dict)(_builtins.dict(bound.arguments))
        return _OrderedDict((n, g[n]) for n in names)
    return gradfun


def checkpoint(fun):
    return _pdx.checkpoint(fun)


def primitive(f):
    from .extend import primitive as _p
    return _p(f)
