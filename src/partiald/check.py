"""``check_grads``: compare forward and reverse derivatives with finite differences.

Central differences run in float64 whatever the input dtype, along random
unit directions (fast mode), plus the full Jacobian column by column when the
input has at most 20 elements (slow mode). Reverse mode is checked through
``<u, J v>``; forward and reverse are also compared with each other (the
transpose identity). Order 2 and above recurse on the JVP and VJP maps.
"""
from __future__ import annotations

import numpy as np

from .api import jvp, vjp
from .core.pytree import tree_flatten, tree_unflatten

_SLOW_MODE_MAX = 20


def _tol(dtypes, atol, rtol):
    low = any(np.dtype(d) in (np.float32, np.float16) for d in dtypes)
    default = 2e-3 if low else 1e-6
    return (default if atol is None else atol), (default if rtol is None else rtol)


def _as64(flat):
    return [np.asarray(x, dtype=np.float64) for x in flat]


def _flat_out(f, in_tree, flat):
    out = f(*tree_unflatten(in_tree, flat))
    leaves, _ = tree_flatten(out)
    return [np.asarray(o, dtype=np.float64) for o in leaves]


def _fd(f, in_tree, flat, direction, eps):
    """Central difference of f at flat along direction (all in float64)."""
    x = _as64(flat)
    scale = max([1.0] + [float(np.max(np.abs(a))) if a.size else 0.0 for a in x])
    h = eps * scale
    plus = _flat_out(f, in_tree, [a + h * d for a, d in zip(x, direction)])
    minus = _flat_out(f, in_tree, [a - h * d for a, d in zip(x, direction)])
    return [(p - m) / (2 * h) for p, m in zip(plus, minus)]


def _unit_direction(rng, flat):
    d = [rng.standard_normal(np.shape(x)) for x in flat]
    norm = np.sqrt(sum(float(np.sum(v * v)) for v in d))
    return [v / norm for v in d] if norm > 0 else d


def _compare(ad, fd, out_scale, atol, rtol, what):
    worst = None
    for li, (a, b) in enumerate(zip(ad, fd)):
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            raise AssertionError(f"check_grads ({what}): AD result has shape {a.shape} but the finite "
                                 f"difference has shape {b.shape}")
        if a.size == 0:
            continue
        err = np.abs(a - b)
        err = np.where(np.isnan(a) & np.isnan(b), 0.0, err)
        tol = atol * out_scale + rtol * np.abs(b)
        excess = np.where(np.isnan(err), np.inf, err - tol)
        k = int(np.argmax(excess))
        if worst is None or excess.flat[k] > worst[0]:
            worst = (excess.flat[k], li, np.unravel_index(k, a.shape) if a.shape else (),
                     a.flat[k], b.flat[k], err.flat[k], tol.flat[k])
    if worst is not None and worst[0] > 0:
        _, li, idx, av, bv, e, t = worst
        raise AssertionError(
            f"check_grads failed ({what}): worst component: output leaf {li}, index {tuple(int(i) for i in idx)}: "
            f"AD = {av!r}, FD = {bv!r}, |AD - FD| = {e:.3g} > tolerance {t:.3g} "
            f"(atol {atol:g} * scale {out_scale:g} + rtol {rtol:g} * |FD|)")


def _scale(f, in_tree, flat):
    outs = _flat_out(f, in_tree, _as64(flat))
    return max([1.0] + [float(np.max(np.abs(o[np.isfinite(o)]))) for o in outs if np.isfinite(o).any()])


def _check_jvp(f, in_tree, flat, rng, atol, rtol, eps, order_label):
    scale = _scale(f, in_tree, flat)
    n_in = sum(np.size(x) for x in flat)
    directions = [_unit_direction(rng, flat)]
    if n_in <= _SLOW_MODE_MAX:
        for k in range(n_in):
            e, start = [], 0
            for x in flat:
                v = np.zeros(np.size(x))
                if start <= k < start + np.size(x):
                    v[k - start] = 1.0
                e.append(v.reshape(np.shape(x)))
                start += np.size(x)
            directions.append(e)
    for d in directions:
        tangents = tree_unflatten(in_tree, [np.asarray(v, dtype=np.asarray(x).dtype) for v, x in zip(d, flat)])
        _, t_out = jvp(f, tuple(tree_unflatten(in_tree, flat)), tuple(tangents))
        ad = [np.asarray(t, dtype=np.float64) for t in tree_flatten(t_out)[0]]
        fd = _fd(f, in_tree, flat, d, eps)
        _compare(ad, fd, scale, atol, rtol, f"{order_label}, forward mode (JVP) vs central differences")


def _check_vjp(f, in_tree, flat, rng, atol, rtol, eps, order_label, check_transpose):
    scale = _scale(f, in_tree, flat)
    primals = tuple(tree_unflatten(in_tree, flat))
    out, back = vjp(f, *primals)
    out_flat, out_tree = tree_flatten(out)
    u = [rng.standard_normal(np.shape(o)).astype(np.asarray(o).dtype) for o in out_flat]
    ct = tree_flatten(back(tree_unflatten(out_tree, [x[()] if x.ndim == 0 else x for x in u])))[0]
    d = _unit_direction(rng, flat)
    lhs = sum(float(np.sum(np.asarray(c, np.float64) * v)) for c, v in zip(ct, d))
    fd = _fd(f, in_tree, flat, d, eps)
    rhs = sum(float(np.sum(np.asarray(a, np.float64) * b)) for a, b in zip(u, fd))
    u_scale = float(sum(np.sum(np.abs(x)) for x in u)) or 1.0
    _compare([np.float64(lhs)], [np.float64(rhs)], scale * u_scale, atol, rtol,
             f"{order_label}, reverse mode <J^T u, v> vs <u, FD v>")
    if check_transpose:
        tangents = tree_unflatten(in_tree, [np.asarray(v, dtype=np.asarray(x).dtype) for v, x in zip(d, flat)])
        _, t_out = jvp(f, primals, tuple(tangents))
        jv = sum(float(np.sum(np.asarray(a, np.float64) * np.asarray(t, np.float64)))
                 for a, t in zip(u, tree_flatten(t_out)[0]))
        denom = sum(float(np.sum(np.abs(np.asarray(a, np.float64) * np.asarray(t, np.float64))))
                    for a, t in zip(u, tree_flatten(t_out)[0]))
        low = any(np.asarray(x).dtype != np.float64 for x in flat)
        tol = (1e-4 if low else 1e-10) * max(denom, 1.0)
        if not abs(jv - lhs) <= tol:
            raise AssertionError(f"check_grads failed ({order_label}, transpose identity): "
                                 f"<u, J v> = {jv!r} (forward) but <J^T u, v> = {lhs!r} (reverse), "
                                 f"difference {abs(jv - lhs):.3g} > {tol:.3g}")


def check_grads(f, args, order=1, modes=("fwd", "rev"), atol=None, rtol=None, eps=1e-6, seed=0):
    """Check ``f``'s derivatives to ``order`` against central finite differences.

    Args:
      f: function of the positional ``args`` (arrays or pytrees of float arrays).
      args: tuple of arguments.
      order: highest derivative order to check (2 checks the JVP and VJP maps too).
      modes: ``"fwd"``, ``"rev"`` or both.
      atol, rtol: the pass rule is ``|AD - FD| <= atol * max(1, |f|) + rtol * |FD|``;
        defaults 1e-6 for float64 inputs, 2e-3 when any input is float32.
      eps: finite-difference step relative to ``max(1, |x|)``.
      seed: seed of the random directions.

    Raises:
      AssertionError naming the worst component, with the AD and FD values.

    Examples:
      >>> import partiald as pdx, partiald.numpy as pnp
      >>> pdx.check_grads(pnp.sin, (0.5,), order=2)
    """
    if isinstance(modes, str):
        modes = (modes,)
    if not set(modes) <= {"fwd", "rev"} or not modes:
        raise ValueError(f"check_grads: modes must be a subset of ('fwd', 'rev'), got {modes!r}")
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"check_grads: order must be a positive integer, got {order!r}")
    if not isinstance(args, (tuple, list)):
        raise TypeError("check_grads(f, args): args must be a tuple of arguments, e.g. (x,)")
    flat, in_tree = tree_flatten(tuple(args))
    flat = [np.asarray(x, dtype=np.float64) if isinstance(x, (int, float)) else np.asarray(x) for x in flat]
    for x in flat:
        if x.dtype.kind != "f":
            raise TypeError(f"check_grads: inputs must be float arrays, got dtype {x.dtype}")
    atol, rtol = _tol([x.dtype for x in flat], atol, rtol)
    rng = np.random.default_rng(seed)
    _check(f, in_tree, flat, order, modes, atol, rtol, eps, rng, 1)


def _check(f, in_tree, flat, order, modes, atol, rtol, eps, rng, level):
    label = f"order {level}"
    if "fwd" in modes:
        _check_jvp(f, in_tree, flat, rng, atol, rtol, eps, label)
    if "rev" in modes:
        _check_vjp(f, in_tree, flat, rng, atol, rtol, eps, label, check_transpose="fwd" in modes)
    if order > 1:
        if "fwd" in modes:
            v = [np.asarray(d, dtype=x.dtype) for d, x in zip(_unit_direction(rng, flat), flat)]
            tangents = tuple(tree_unflatten(in_tree, v))

            def f_jvp(*primals):
                return jvp(f, primals, tangents)[1]
            _check(f_jvp, in_tree, flat, order - 1, modes, atol, rtol, eps, rng, level + 1)
        if "rev" in modes:
            out = f(*tree_unflatten(in_tree, flat))
            out_flat, out_tree = tree_flatten(out)
            u = tree_unflatten(out_tree, [rng.standard_normal(np.shape(o)).astype(np.asarray(o).dtype)
                                          for o in out_flat])

            def f_vjp(*primals):
                return vjp(f, *primals)[1](u)
            _check(f_vjp, in_tree, flat, order - 1, modes, atol, rtol, eps, rng, level + 1)
