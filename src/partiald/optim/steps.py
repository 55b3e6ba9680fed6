"""Step optimizers for training loops: ``init(params) -> state`` and
``update(grads, state, params) -> (params, state)``.

The state is a plain dict pytree (a Python int step count and arrays shaped
like the parameters), so ``copy.deepcopy`` or saving its leaves is enough to
checkpoint it. Updates are functional (no array is modified in place) and
keep each parameter's dtype: float32 parameters stay float32.

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
        lr = _rate(self.lr, count)
        mu, wd = self.momentum, self.weight_decay
        b_leaves = _leaves_like(state["velocity"], treedef, "state['velocity']", "sgd") if mu else p_leaves
        new_p, new_b = [], []
        for p, g, b in zip(p_leaves, g_leaves, b_leaves):
            pa = _as_array(p)
            g = _as_array(g, pa.dtype)
            if wd:
                g = g + wd * pa
            if mu:
                b = mu * _as_array(b, pa.dtype) + g
                d = g + mu * b if self.nesterov else b
                new_b.append(b)
            else:
                d = g
            new_p.append(_restore(pa - lr * d, p))
        new_state = {"count": count + 1}
        if mu:
            new_state["velocity"] = tree_unflatten(treedef, new_b)
        return tree_unflatten(treedef, new_p), new_state


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
        lr = _rate(self.lr, count)
        b1, b2, eps, wd = self.b1, self.b2, self.eps, self.weight_decay
        t = count + 1
        c1, c2 = 1.0 - b1 ** t, 1.0 - b2 ** t          # bias corrections
        new_p, new_m, new_v = [], [], []
        for p, g, m, v in zip(p_leaves, g_leaves, m_leaves, v_leaves):
            pa = _as_array(p)
            g = _as_array(g, pa.dtype)
            m = b1 * _as_array(m, pa.dtype) + (1.0 - b1) * g
            v = b2 * _as_array(v, pa.dtype) + (1.0 - b2) * (g * g)
            if wd:
                pa = pa * (1.0 - lr * wd)
            new_p.append(_restore(pa - lr * (m / c1) / (np.sqrt(v / c2) + eps), p))
            new_m.append(m)
            new_v.append(v)
        return tree_unflatten(treedef, new_p), {"count": t, "m": tree_unflatten(treedef, new_m),
                                                "v": tree_unflatten(treedef, new_v)}


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
