"""Step optimizers for training loops: ``init(params) -> state`` and
``update(grads, state, params) -> (params, state)``.

The state is a plain dict pytree (a Python int step count and arrays shaped
like the parameters), so ``copy.deepcopy`` or saving its leaves is enough to
checkpoint it. ``update`` is functional (no array is modified in place) and
keeps each parameter's dtype: float32 parameters stay float32.
``update_in_place`` gives bitwise the same step but overwrites the parameters
and the state (their leaves must be writable arrays of one float dtype): a
training loop that owns them then holds no second copy (``nn.fit`` does this).

    opt = optim.adam(1e-3)
    state = opt.init(params)
    for batch in batches:
        grads = pdx.grad(loss)(params, batch)
        params, state = opt.update(grads, state, params)
"""
from __future__ import annotations

import math

import numpy as np

from ..core.pytree import tree_flatten, tree_unflatten


# -- learning-rate schedules: step count (updates done so far) -> learning rate -------

def exponential_decay(lr, decay_rate, decay_steps):
    """``lr * decay_rate ** (count / decay_steps)``.

    Args:
      lr: the initial learning rate.
      decay_rate: the factor applied every ``decay_steps`` updates, in (0, 1].
      decay_steps: updates per factor.

    Returns:
      A schedule ``count -> learning rate``.
    """
    _positive("exponential_decay", "lr", lr)
    _positive("exponential_decay", "decay_steps", decay_steps)
    if not 0 < decay_rate <= 1:
        raise ValueError(f"exponential_decay: decay_rate must be in (0, 1], got {decay_rate}")
    return lambda count: lr * decay_rate ** (count / decay_steps)


def cosine_decay(lr, decay_steps, final_lr=0.0):
    """Half a cosine from ``lr`` down to ``final_lr`` over ``decay_steps`` updates, then ``final_lr``:
    ``final + (lr - final) (1 + cos(pi min(count, steps) / steps)) / 2``.

    Returns:
      A schedule ``count -> learning rate``.
    """
    _positive("cosine_decay", "lr", lr)
    _positive("cosine_decay", "decay_steps", decay_steps)
    return lambda count: final_lr + 0.5 * (lr - final_lr) * (
        1.0 + math.cos(math.pi * min(count, decay_steps) / decay_steps))


def linear_warmup(lr, warmup_steps, after=None):
    """``lr * (count + 1) / warmup_steps`` for the first ``warmup_steps`` updates, then ``after``
    (a schedule, called with the count since warm-up ended) or the constant ``lr``.

    Returns:
      A schedule ``count -> learning rate``.
    """
    _positive("linear_warmup", "lr", lr)
    _positive("linear_warmup", "warmup_steps", warmup_steps)

    def schedule(count):
        if count < warmup_steps:
            return lr * (count + 1) / warmup_steps
        return after(count - warmup_steps) if after is not None else lr
    return schedule


def _positive(fname, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not value > 0 or not math.isfinite(value):
        raise ValueError(f"{fname}: {name} must be a positive number, got {value!r}")


def _check_lr(fname, lr):
    if callable(lr):
        return
    _positive(fname, "lr", lr)


def _rate(lr, count):
    """The learning rate for this update, as a Python float (so it never promotes float32)."""
    value = float(lr(count)) if callable(lr) else float(lr)
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"the learning-rate schedule returned {value} at step {count}; it must be a "
                         "finite number >= 0")
    return value


# -- pytree plumbing -------------------------------------------------------------------

def _leaves_like(tree, treedef, what, fname):
    leaves, t = tree_flatten(tree)
    if t != treedef:
        raise ValueError(f"{fname}.update: {what} has structure {t}, but params have {treedef}")
    return leaves


def _as_array(x, dtype=None):
    return np.asarray(x, dtype=dtype if dtype is not None else (x.dtype if hasattr(x, "dtype") else np.float64))


def _zeros(p):
    return np.zeros(np.shape(p), dtype=_as_array(p).dtype)


def _restore(new, old):
    """Give ``new`` the dtype and kind (array, NumPy scalar, Python float) of ``old``."""
    if isinstance(old, float):
        return float(new)
    if isinstance(old, np.generic):
        return old.dtype.type(new)
    return np.asarray(new, dtype=old.dtype)


def _fresh(x, dtype):
    """A new writable array of ``dtype`` holding ``x`` (what the functional update overwrites)."""
    return np.array(x, dtype=dtype, copy=True)


def _state_leaf(a):
    """A state leaf as the functional update returns it: 0-d results are NumPy scalars."""
    return a[()] if a.ndim == 0 else a


def _in_place_leaves(tree, treedef, what, fname, like=None):
    """The leaves of ``tree`` checked for ``update_in_place``: writable float arrays (of the
    parameters' dtypes and shapes when ``like`` gives them)."""
    leaves = _leaves_like(tree, treedef, what, fname)
    for i, x in enumerate(leaves):
        ok = isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.flags.writeable
        if ok and like is not None:
            ok = x.dtype == like[i].dtype and x.shape == like[i].shape
        if not ok:
            raise TypeError(f"{fname}.update_in_place: every leaf of {what} must be a writable float array"
                            + (" of its parameter's dtype and shape" if like is not None else "")
                            + f", got {type(x).__name__}" + (f" of dtype {x.dtype}" if hasattr(x, "dtype") else "")
                            + f"; use {fname}.update, which returns new arrays")
    return leaves


def _check_count(state, fname):
    if not isinstance(state, dict) or "count" not in state:
        raise ValueError(f"{fname}.update: state must be the dict returned by {fname}.init(params) "
                         f"(or a previous update), got {type(state).__name__}")
    return int(state["count"])


class SGD:
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    The update (PyTorch's ``torch.optim.SGD`` with ``dampening=0``), with b = 0 at init:

        g <- g + weight_decay * p
        b <- momentum * b + g
        d  = g + momentum * b   (nesterov)   or   b   (heavy ball)   or   g   (momentum = 0)
        p <- p - lr * d
    """

    def __init__(self, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        _check_lr("sgd", lr)
        if not (momentum >= 0 and math.isfinite(momentum)):
            raise ValueError(f"sgd: momentum must be a number >= 0, got {momentum!r}")
        if nesterov and momentum == 0:
            raise ValueError("sgd: nesterov=True needs momentum > 0, e.g. sgd(lr, momentum=0.9, nesterov=True)")
        if not (weight_decay >= 0 and math.isfinite(weight_decay)):
            raise ValueError(f"sgd: weight_decay must be a number >= 0, got {weight_decay!r}")
        self.lr, self.momentum, self.nesterov = lr, float(momentum), bool(nesterov)
        self.weight_decay = float(weight_decay)

    def __repr__(self):
        return (f"sgd(lr={self.lr!r}, momentum={self.momentum}, nesterov={self.nesterov}, "
                f"weight_decay={self.weight_decay})")

    def init(self, params):
        """The initial state: ``{"count": 0}`` plus ``"velocity"`` (zeros like params) with momentum."""
        if self.momentum == 0:
            return {"count": 0}
        leaves, treedef = tree_flatten(params)
        return {"count": 0, "velocity": tree_unflatten(treedef, [_zeros(p) for p in leaves])}

    def update(self, grads, state, params):
        """One step: returns ``(new_params, new_state)``; the inputs are left unchanged."""
        count = _check_count(state, "sgd")
        p_leaves, treedef = tree_flatten(params)
        g_leaves = _leaves_like(grads, treedef, "grads", "sgd")
        b_leaves = _leaves_like(state["velocity"], treedef, "state['velocity']", "sgd") if self.momentum else None
        new_p = [_fresh(p, _as_array(p).dtype) for p in p_leaves]
        new_b = [_fresh(b, q.dtype) for b, q in zip(b_leaves, new_p)] if b_leaves is not None else None
        self._step(g_leaves, new_p, new_b, count)
        new_state = {"count": count + 1}
        if new_b is not None:
            new_state["velocity"] = tree_unflatten(treedef, [_state_leaf(b) for b in new_b])
        return tree_unflatten(treedef, [_restore(q, p) for q, p in zip(new_p, p_leaves)]), new_state

    def update_in_place(self, grads, state, params):
        """``update``, bitwise, writing the new parameters and velocity into ``params`` and
        ``state`` (writable float arrays); returns ``(params, state)``, the same objects."""
        count = _check_count(state, "sgd")
        p_leaves, treedef = tree_flatten(params)
        p_leaves = _in_place_leaves(params, treedef, "params", "sgd")
        g_leaves = _leaves_like(grads, treedef, "grads", "sgd")
        b_leaves = (_in_place_leaves(state["velocity"], treedef, "state['velocity']", "sgd", p_leaves)
                    if self.momentum else None)
        self._step(g_leaves, p_leaves, b_leaves, count)
        state["count"] = count + 1
        return params, state

    def _step(self, g_leaves, p_leaves, b_leaves, count):
        """The update of the class docstring, overwriting ``p_leaves`` and ``b_leaves``
        (arrays), a block of values at a time; the arithmetic, operation by operation,
        of ``p - lr * d``."""
        lr = _rate(self.lr, count)
        mu, wd, nesterov = self.momentum, self.weight_decay, self.nesterov
        for i, p in enumerate(p_leaves):
            g = _as_array(g_leaves[i], p.dtype)
            b = b_leaves[i] if mu else None
            for ps, gs, bs, tmp in _blocks(p, g, b):
                if wd:
                    gs = np.add(gs, np.multiply(ps, wd, out=tmp[0]), out=tmp[0])    # g + wd p
                if mu:
                    np.multiply(bs, mu, out=bs)
                    np.add(bs, gs, out=bs)                                          # mu b + g
                    d = np.add(gs, np.multiply(bs, mu, out=tmp[1]), out=tmp[1]) if nesterov else bs
                else:
                    d = gs
                np.subtract(ps, np.multiply(d, lr, out=tmp[1]), out=ps)            # p - lr d


class Adam:
    """Adam (Kingma & Ba 2015, Algorithm 1) with optional decoupled weight decay (AdamW).

    With m = v = 0 at init and t the step number (1, 2, ...):

        m <- b1 m + (1 - b1) g
        v <- b2 v + (1 - b2) g^2
        m_hat = m / (1 - b1^t),   v_hat = v / (1 - b2^t)
        p <- p (1 - lr weight_decay)                  (AdamW; skipped when weight_decay = 0)
        p <- p - lr m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(self, lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0):
        _check_lr("adam", lr)
        for name, b in (("b1", b1), ("b2", b2)):
            if not 0 <= b < 1:
                raise ValueError(f"adam: {name} must be in [0, 1), got {b!r}")
        if not (eps >= 0 and math.isfinite(eps)):
            raise ValueError(f"adam: eps must be a number >= 0, got {eps!r}")
        if not (weight_decay >= 0 and math.isfinite(weight_decay)):
            raise ValueError(f"adam: weight_decay must be a number >= 0, got {weight_decay!r}")
        self.lr, self.b1, self.b2, self.eps = lr, float(b1), float(b2), float(eps)
        self.weight_decay = float(weight_decay)

    def __repr__(self):
        return (f"adam(lr={self.lr!r}, b1={self.b1}, b2={self.b2}, eps={self.eps}, "
                f"weight_decay={self.weight_decay})")

    def init(self, params):
        """The initial state: ``{"count": 0, "m": zeros, "v": zeros}`` (like params)."""
        leaves, treedef = tree_flatten(params)
        return {"count": 0, "m": tree_unflatten(treedef, [_zeros(p) for p in leaves]),
                "v": tree_unflatten(treedef, [_zeros(p) for p in leaves])}

    def update(self, grads, state, params):
        """One step: returns ``(new_params, new_state)``; the inputs are left unchanged."""
        count = _check_count(state, "adam")
        p_leaves, treedef = tree_flatten(params)
        g_leaves = _leaves_like(grads, treedef, "grads", "adam")
        m_leaves = _leaves_like(state["m"], treedef, "state['m']", "adam")
        v_leaves = _leaves_like(state["v"], treedef, "state['v']", "adam")
        new_p = [_fresh(p, _as_array(p).dtype) for p in p_leaves]
        new_m = [_fresh(m, q.dtype) for m, q in zip(m_leaves, new_p)]
        new_v = [_fresh(v, q.dtype) for v, q in zip(v_leaves, new_p)]
        self._step(g_leaves, new_p, new_m, new_v, count)
        return tree_unflatten(treedef, [_restore(q, p) for q, p in zip(new_p, p_leaves)]), {
            "count": count + 1, "m": tree_unflatten(treedef, [_state_leaf(m) for m in new_m]),
            "v": tree_unflatten(treedef, [_state_leaf(v) for v in new_v])}

    def update_in_place(self, grads, state, params):
        """``update``, bitwise, writing the new parameters and moments into ``params`` and
        ``state`` (writable float arrays); returns ``(params, state)``, the same objects.
        Besides them it allocates two arrays the size of the largest parameter."""
        count = _check_count(state, "adam")
        p_leaves, treedef = tree_flatten(params)
        p_leaves = _in_place_leaves(params, treedef, "params", "adam")
        g_leaves = _leaves_like(grads, treedef, "grads", "adam")
        m_leaves = _in_place_leaves(state["m"], treedef, "state['m']", "adam", p_leaves)
        v_leaves = _in_place_leaves(state["v"], treedef, "state['v']", "adam", p_leaves)
        self._step(g_leaves, p_leaves, m_leaves, v_leaves, count)
        state["count"] = count + 1
        return params, state

    def _step(self, g_leaves, p_leaves, m_leaves, v_leaves, count):
        """The update of the class docstring, overwriting the arrays ``p_leaves``,
        ``m_leaves`` and ``v_leaves`` a block of values at a time, operation by operation
        as ``p - lr * (m / c1) / (sqrt(v / c2) + eps)`` reads."""
        lr = _rate(self.lr, count)
        b1, b2, eps, wd = self.b1, self.b2, self.eps, self.weight_decay
        t = count + 1
        c1, c2 = 1.0 - b1 ** t, 1.0 - b2 ** t          # bias corrections
        for p, g, m, v in zip(p_leaves, g_leaves, m_leaves, v_leaves):
            g = _as_array(g, p.dtype)
            for ps, gs, ms, vs, (a, d) in _blocks(p, g, m, v):
                np.multiply(gs, 1.0 - b1, out=a)
                np.multiply(ms, b1, out=ms)
                np.add(ms, a, out=ms)                       # m <- b1 m + (1 - b1) g
                np.multiply(gs, gs, out=a)
                np.multiply(a, 1.0 - b2, out=a)
                np.multiply(vs, b2, out=vs)
                np.add(vs, a, out=vs)                       # v <- b2 v + (1 - b2) g^2
                if wd:
                    np.multiply(ps, 1.0 - lr * wd, out=ps)
                np.divide(ms, c1, out=a)
                np.multiply(a, lr, out=a)                   # lr m_hat
                np.divide(vs, c2, out=d)
                np.sqrt(d, out=d)
                np.add(d, eps, out=d)                       # sqrt(v_hat) + eps
                np.divide(a, d, out=a)
                np.subtract(ps, a, out=ps)


#: values per block of an update: the temporaries stay this small (and in cache)
_BLOCK = 1 << 16


def _blocks(p, g, *state):
    """``(p, g, *state, (tmp, tmp))`` per block of about ``_BLOCK`` values, blocks of rows
    (slices along the first axis: views of every array, whatever its memory layout),
    with two scratch arrays of the block's shape; ``p`` and ``state`` are written in place."""
    if g.shape != p.shape:
        g = np.broadcast_to(g, p.shape)
    rows = p.shape[0] if p.ndim else 1
    per_row = p.size // rows if rows else 0
    step = max(1, _BLOCK // per_row) if per_row else rows
    if p.ndim == 0 or step >= rows:
        yield (p, g, *state, (np.empty_like(p), np.empty_like(p)))
        return
    tmp = (np.empty((step,) + p.shape[1:], p.dtype), np.empty((step,) + p.shape[1:], p.dtype))
    for s in range(0, rows, step):
        e = min(rows, s + step)
        yield (p[s:e], g[s:e], *[None if x is None else x[s:e] for x in state], (tmp[0][:e - s], tmp[1][:e - s]))


def sgd(lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """Stochastic gradient descent as a step optimizer.

    Args:
      lr: learning rate, or a schedule ``count -> lr`` (count = updates done so far).
      momentum: heavy-ball coefficient (0 for plain SGD).
      nesterov: use Nesterov momentum (needs ``momentum > 0``).
      weight_decay: L2 coefficient added to the gradient (``g + weight_decay * p``).

    Returns:
      An optimizer with ``init(params) -> state`` and
      ``update(grads, state, params) -> (params, state)``.

    Examples:
      >>> import numpy as np
      >>> from partiald import optim
      >>> opt = optim.sgd(0.1, momentum=0.9)
      >>> state = opt.init({"w": np.zeros(2)})
      >>> params, state = opt.update({"w": np.ones(2)}, state, {"w": np.zeros(2)})
      >>> params["w"], state["count"]
      (array([-0.1, -0.1]), 1)
    """
    return SGD(lr, momentum, nesterov, weight_decay)


def adam(lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0):
    """Adam as a step optimizer (AdamW when ``weight_decay > 0``).

    Args:
      lr: learning rate, or a schedule ``count -> lr`` (count = updates done so far).
      b1, b2: decay rates of the first and second moment estimates.
      eps: added to ``sqrt(v_hat)`` in the denominator.
      weight_decay: decoupled weight decay (``p <- p (1 - lr weight_decay)`` each step).

    Returns:
      An optimizer with ``init(params) -> state`` and
      ``update(grads, state, params) -> (params, state)``.
    """
    return Adam(lr, b1, b2, eps, weight_decay)
