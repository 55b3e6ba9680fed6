"""User derivative rules (``custom_jvp``, ``custom_vjp``) and ``checkpoint``.

Each wraps a Python function into one equation of the IR, whose primitive
carries the user's rule:

* ``custom_jvp``: the JVP rule of the call is the user's ``jvp``; reverse mode
  linearizes it and transposes, as for every primitive.
* ``custom_vjp``: the JVP rule runs the user's ``fwd`` and emits a linear
  equation whose transpose is the user's ``bwd``. Forward mode through it is
  not defined (as in JAX) and says so, naming ``custom_jvp``.
* ``checkpoint``: the linear equation keeps only the inputs; its transpose
  recomputes the function's linearization in the backward pass.
"""
from __future__ import annotations

import functools

import numpy as np

from .api import jvp as _jvp
from .api import vjp as _vjp
from .core.graph import ShapedArray, aval_of
from .core.primitive import Primitive, bind
from .core.pytree import tree_flatten, tree_unflatten
from .core.trace import Builder
from .ops.batch_rules import loop_batch


def _split(args, nondiff):
    diff = tuple(a for i, a in enumerate(args) if i not in nondiff)
    static = tuple((i, a) for i, a in enumerate(args) if i in nondiff)
    return diff, static


def _merge(diff, static, n):
    it = iter(diff)
    fixed = dict(static)
    return [fixed[i] if i in fixed else next(it) for i in range(n)]


def _out_avals(fun, avals):
    """Shapes and dtypes of ``fun``'s flat outputs, by tracing it abstractly."""
    b = Builder("shape inference")
    tracers = [b.new_arg(a) for a in avals]
    outs = fun(*tracers)
    return [o.aval if hasattr(o, "aval") else aval_of(np.asarray(o)) for o in outs]


def _flat_fun(f, static, n_args, in_tree):
    """``f`` as a function of flat differentiable leaves returning flat outputs (and
    recording the output structure)."""
    store = {}

    def flat(*leaves):
        diff = tree_unflatten(in_tree, leaves)
        out = f(*_merge(diff, static, n_args))
        out_flat, out_tree = tree_flatten(out)
        store["tree"] = out_tree
        return out_flat
    return flat, store


def _traced_call(fun, nondiff_argnums, args):
    """None when no argument is traced (call ``fun`` directly); otherwise the flat
    differentiable leaves, their structure, ``fun`` as a function of them, the box that
    receives its output structure, and the non-differentiable argument values."""
    nondiff = set(i % len(args) for i in nondiff_argnums)
    diff, static = _split(args, nondiff)
    leaves, in_tree = tree_flatten(diff)
    if not any(hasattr(x, "_builder") for x in leaves):
        return None
    flat, store = _flat_fun(fun, static, len(args), in_tree)
    return leaves, in_tree, flat, store, [a for _, a in static]


def _zeros(x):
    return np.zeros(np.shape(x), dtype=getattr(x, "dtype", np.float64))


# -- custom_jvp --------------------------------------------------------------------------

def _cj_impl(*leaves, fun, jvp, n_out, **_):
    outs = fun(*leaves)
    return outs[0] if n_out == 1 else outs


def _cj_aval(*avals, fun, jvp, n_out, **_):
    return _out_avals(fun, avals)[0]


def _cj_jvp(tangents, ans, *leaves, fun, jvp, n_out, **_):
    tangents = [_zeros(x) if t is None else t for t, x in zip(tangents, leaves)]
    _, t_out = jvp(leaves, tangents)
    return t_out[0]


custom_jvp_call_p = Primitive("custom_jvp_call", _cj_impl, _cj_aval, jvp=_cj_jvp, rule_name="custom rule",
                              batch=lambda args, dims, **p: loop_batch(custom_jvp_call_p, args, dims, **p),
                              sparsity="custom_jvp")


class custom_jvp:
    """A function with a user-defined JVP rule (JAX semantics).

    Examples:
      >>> import partiald as pdx, partiald.numpy as pnp
      >>> @pdx.custom_jvp
      ... def log1pexp(x):
      ...     return pnp.log1p(pnp.exp(x))
      >>> @log1pexp.defjvp
      ... def log1pexp_jvp(primals, tangents):
      ...     (x,), (t,) = primals, tangents
      ...     return log1pexp(x), t * (1 - 1 / (1 + pnp.exp(x)))
      >>> pdx.grad(log1pexp)(100.0)
      1.0
    """

    def __init__(self, fun, nondiff_argnums=()):
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp = None
        functools.update_wrapper(self, fun)

    def defjvp(self, jvp):
        """Set the rule ``jvp(primals, tangents) -> (primal_out, tangent_out)``
        (non-differentiable arguments come first: ``jvp(*nondiff, primals, tangents)``)."""
        self.jvp = jvp
        return jvp

    def __call__(self, *args):
        if self.jvp is None:
            raise TypeError(f"custom_jvp function {self.fun.__name__} has no rule: decorate one with "
                            f"@{self.fun.__name__}.defjvp")
        call = _traced_call(self.fun, self.nondiff_argnums, args)
        if call is None:
            return self.fun(*args)
        leaves, in_tree, flat, store, static_vals = call
        user_jvp = self.jvp

        def flat_jvp(primals, tangents):
            p = tree_unflatten(in_tree, list(primals))
            t = tree_unflatten(in_tree, list(tangents))
            out, t_out = user_jvp(*static_vals, tuple(p), tuple(t))
            out_flat, _ = tree_flatten(out)
            t_flat, t_tree = tree_flatten(t_out)
            for i, (o, to) in enumerate(zip(out_flat, t_flat)):
                if np.shape(o) != np.shape(to):
                    raise ValueError(f"custom_jvp rule of {self.fun.__name__}: tangent output {i} has shape "
                                     f"{np.shape(to)} but the primal output has shape {np.shape(o)}")
            return out_flat, t_flat

        avals = [aval_of(x) for x in leaves]
        out_avals = _out_avals(flat, avals)
        outs = []
        for k in range(len(out_avals)):
            def fun_k(*xs, k=k):
                return [flat(*xs)[k]]

            def jvp_k(p, t, k=k):
                o, to = flat_jvp(p, t)
                return [o[k]], [to[k]]
            outs.append(bind(custom_jvp_call_p, *leaves, fun=fun_k, jvp=jvp_k, n_out=1,
                             name=self.fun.__name__))
        return tree_unflatten(store["tree"], outs)


# -- custom_vjp ---------------------------------------------------------------------------

def _cv_impl(*leaves, fun, fwd, bwd, k, **_):
    return fun(*leaves)[k]


def _cv_aval(*avals, fun, fwd, bwd, k, **_):
    return _out_avals(fun, avals)[k]


def _cv_jvp(tangents, ans, *leaves, fun, fwd, bwd, k, name, **_):
    out_flat, res_flat, res_tree = fwd(*leaves)
    t_in = [_zeros(x) if t is None else t for t, x in zip(tangents, leaves)]
    return bind(custom_vjp_lin_p, *t_in, *res_flat, n_in=len(leaves), res_tree=res_tree, bwd=bwd, k=k,
                out_aval=aval_of(ans), in_avals=tuple(aval_of(x) for x in leaves), name=name)


custom_vjp_call_p = Primitive("custom_vjp_call", _cv_impl, _cv_aval, jvp=_cv_jvp, rule_name="custom rule",
                              batch=lambda args, dims, **p: loop_batch(custom_vjp_call_p, args, dims, **p),
                              sparsity="dense")


def _cvl_impl(*args, name, **_):
    raise TypeError(f"forward-mode differentiation (jvp, jacfwd, hessian) of the custom_vjp function {name} "
                    "is not defined: it has only a reverse-mode rule. Give it a forward rule with "
                    "@custom_jvp instead, or use reverse mode (grad, vjp, jacrev).")


def _cvl_transpose(ct, *args, n_in, res_tree, bwd, k, out_aval, in_avals, name):
    res = tree_unflatten(res_tree, list(args[n_in:]))
    cts = bwd(res, ct, k)
    if not isinstance(cts, (tuple, list)) or len(cts) != n_in:
        raise ValueError(f"custom_vjp bwd of {name} must return a tuple with one cotangent per "
                         f"differentiable argument ({n_in}), got {type(cts).__name__}")
    for i, (c, a) in enumerate(zip(cts, in_avals)):
        if c is not None and np.shape(c) != a.shape:
            raise ValueError(f"custom_vjp bwd of {name}: cotangent for argument {i} has shape {np.shape(c)}, "
                             f"but the argument has shape {a.shape}")
    return list(cts) + [None] * (len(args) - n_in)


custom_vjp_lin_p = Primitive("custom_vjp_lin", _cvl_impl,
                             lambda *a, out_aval, **_: out_aval, transpose=_cvl_transpose,
                             batch=lambda args, dims, **p: loop_batch(custom_vjp_lin_p, args, dims, **p),
                             sparsity="dense")


class custom_vjp:
    """A function with a user-defined VJP rule (JAX semantics).

    ``fwd(*args) -> (out, residuals)`` and ``bwd(residuals, g) -> tuple of cotangents``
    (one per differentiable argument; non-differentiable arguments come first in
    both).

    Examples:
      >>> import partiald as pdx, partiald.numpy as pnp
      >>> @pdx.custom_vjp
      ... def clip_gradient(x):
      ...     return x
      >>> clip_gradient.defvjp(lambda x: (x, None), lambda res, g: (pnp.clip(g, -1.0, 1.0),))
      >>> pdx.grad(lambda x: 5 * clip_gradient(x))(2.0)
      1.0
    """

    def __init__(self, fun, nondiff_argnums=()):
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = self.bwd = None
        functools.update_wrapper(self, fun)

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args):
        if self.fwd is None:
            raise TypeError(f"custom_vjp function {self.fun.__name__} has no rules: call "
                            f"{self.fun.__name__}.defvjp(fwd, bwd)")
        call = _traced_call(self.fun, self.nondiff_argnums, args)
        if call is None:
            return self.fun(*args)
        leaves, in_tree, flat, store, static_vals = call
        user_fwd, user_bwd, name = self.fwd, self.bwd, self.fun.__name__
        out_tree_box = {}

        def fwd(*xs):
            out, res = user_fwd(*static_vals, *tree_unflatten(in_tree, list(xs)))
            out_flat, out_tree_box["tree"] = tree_flatten(out)
            res_flat, res_tree = tree_flatten(res)
            return out_flat, res_flat, res_tree

        def bwd(res, ct, k):
            n_out = len(out_avals)
            cts_out = [ct if i == k else _zeros_aval(a) for i, a in enumerate(out_avals)]
            g = tree_unflatten(out_tree_box.get("tree", store.get("tree")), cts_out) if n_out else None
            cts = user_bwd(*static_vals, res, g)
            cts_flat = tree_flatten(tuple(cts) if isinstance(cts, list) else cts)[0] \
                if isinstance(cts, (tuple, list)) else cts
            return cts_flat

        out_avals = _out_avals(flat, [aval_of(x) for x in leaves])
        outs = [bind(custom_vjp_call_p, *leaves, fun=flat, fwd=fwd, bwd=bwd, k=k, name=name)
                for k in range(len(out_avals))]
        return tree_unflatten(store["tree"], outs)


def _zeros_aval(a: ShapedArray):
    z = np.zeros(a.shape, a.dtype)
    return z[()] if z.ndim == 0 else z


# -- checkpoint -------------------------------------------------------------------------------

def _ck_impl(*leaves, fun, k):
    return fun(*leaves)[k]


def _ck_aval(*avals, fun, k):
    return _out_avals(fun, avals)[k]


def _ck_jvp(tangents, ans, *leaves, fun, k):
    t_in = [_zeros(x) if t is None else t for t, x in zip(tangents, leaves)]
    return bind(checkpoint_lin_p, *t_in, *leaves, fun=fun, k=k, n_in=len(leaves), out_aval=aval_of(ans))


checkpoint_call_p = Primitive("checkpoint_call", _ck_impl, _ck_aval, jvp=_ck_jvp, rule_name="chain rule",
                              batch=lambda args, dims, **p: loop_batch(checkpoint_call_p, args, dims, **p),
                              sparsity="dense")


def _ckl_impl(*args, fun, k, n_in, out_aval):
    tangents, primals = args[:n_in], args[n_in:]
    return _jvp(lambda *xs: fun(*xs)[k], tuple(primals), tuple(tangents))[1]


def _ckl_transpose(ct, *args, fun, k, n_in, out_aval):
    primals = args[n_in:]
    # recompute the linearization now, in the backward pass, instead of storing it
    _, back = _vjp(lambda *xs: fun(*xs)[k], *primals)
    return list(back(ct)) + [None] * n_in


def _ckl_jvp(tangents, ans, *args, fun, k, n_in, out_aval):
    # J(p) t is linear in t and smooth in p: differentiate its recomputation
    ts = tuple(_zeros(a) if t is None else t for t, a in zip(tangents, args))
    return _jvp(lambda *a: _ckl_impl(*a, fun=fun, k=k, n_in=n_in, out_aval=out_aval), tuple(args), ts)[1]


checkpoint_lin_p = Primitive("checkpoint_lin", _ckl_impl, lambda *a, out_aval, **_: out_aval,
                             jvp=_ckl_jvp, transpose=_ckl_transpose,
                             batch=lambda args, dims, **p: loop_batch(checkpoint_lin_p, args, dims, **p),
                             sparsity="dense")


def checkpoint(f):
    """``f`` whose intermediate values are recomputed in the backward pass instead of
    stored: reverse mode through it keeps only its inputs (less memory, more time).

    Examples:
      >>> import partiald as pdx, partiald.numpy as pnp
      >>> g = pdx.checkpoint(lambda x: pnp.sin(pnp.sin(x)))
      >>> round(pdx.grad(g)(0.5), 12) == round(float(np.cos(np.sin(0.5)) * np.cos(0.5)), 12)
      True
    """
    @functools.wraps(f)
    def wrapped(*args):
        leaves, in_tree = tree_flatten(args)
        if not any(hasattr(x, "_builder") for x in leaves):
            return f(*args)
        flat, store = _flat_fun(f, (), len(args), in_tree)
        out_avals = _out_avals(flat, [aval_of(x) for x in leaves])
        outs = [bind(checkpoint_call_p, *leaves, fun=flat, k=k) for k in range(len(out_avals))]
        return tree_unflatten(store["tree"], outs)
    return wrapped
