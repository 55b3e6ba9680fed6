"""Memory for training: what ``nn.fit`` will allocate, and the budget it must fit in.

Training a dense network holds, besides the data: a working copy of the
parameters, their gradients, the optimizer's state (Adam: two arrays like the
parameters; SGD with momentum: one), the update's temporaries (two arrays the
size of the largest parameter), and the activations of one batch (or of one
chunk of the validation set). ``nn.fit``, ``MLP.init``/``Linear.init`` and
``partiald train`` add these up before allocating anything and raise
``partiald.MemoryBudgetError`` (exit status 2 on the command line) when the sum
is over the budget: by default ``MEMORY_FRACTION`` of the memory this process
can still allocate (the least of the system's available memory, the headroom
under a cgroup memory limit and under ``RLIMIT_AS``), or ``memory_budget=``
bytes (``--memory-budget 8GiB`` on the command line; ``float("inf")`` turns the
check off).
"""
from __future__ import annotations

import math
import os
import re

import numpy as np

from ..core.errors import MemoryBudgetError
from ..core.pytree import tree_leaves

#: the default budget: this fraction of the memory the process can still allocate
MEMORY_FRACTION = 0.5
#: the activations of a training step, in values per example and per unit of the layer
#: sizes (measured: 2 for relu/tanh networks, up to 4.5 with gelu, 4 with a wide input)
STEP_ACTIVATIONS = 6
#: the same for an evaluation pass (forward only)
EVAL_ACTIVATIONS = 3
#: below this many bytes the default budget is not looked up (nothing to refuse)
SMALL = 16 << 20

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6, "mib": 2**20,
          "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}


def fmt_bytes(n):
    """``n`` bytes for people: ``1.50 GiB``."""
    if n == math.inf:
        return "unlimited"
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{int(n)} bytes"


def parse_bytes(text):
    """Bytes from ``"8GiB"``, ``"500 MB"``, ``"2e9"`` or ``"inf"`` (no limit); ValueError otherwise."""
    s = str(text).strip().lower().replace("_", "")
    if s in ("inf", "infinity", "none", "unlimited"):
        return math.inf
    m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)", s)
    if not m or m.group(2) not in _UNITS or float(m.group(1)) <= 0:
        raise ValueError(f"a memory size is a positive number of bytes with an optional unit (KB, MB, GB, "
                         f"KiB, MiB, GiB), e.g. 8GiB or 500MB, or inf for no limit; got {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _read_int(path):
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _status_kib(field):
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def available_memory():
    """Bytes this process can still allocate, as far as the system tells: the least of
    the available RAM (``MemAvailable``), the headroom under a cgroup memory limit and
    the headroom under ``RLIMIT_AS``; None when none of them is known."""
    known = []
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    known.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    if not known:
        try:
            known.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, OSError, ValueError):
            pass
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                          "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        lim, used = _read_int(limit), _read_int(usage)
        if lim is not None and used is not None and lim < 1 << 60:
            known.append(max(0, lim - used))
            break
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            size = _status_kib("VmSize")
            known.append(max(0, soft - (size or 0)))
    except (ImportError, OSError, ValueError, AttributeError):
        pass
    return min(known) if known else None


def resolve_budget(memory_budget, who):
    """``(bytes, how it was chosen)`` for a ``memory_budget=`` argument: None is the
    default (``MEMORY_FRACTION`` of ``available_memory()``; unlimited if unknown), a
    number is bytes, a string is parsed by ``parse_bytes``."""
    if memory_budget is None:
        avail = available_memory()
        if avail is None:
            return math.inf, "unknown"
        return MEMORY_FRACTION * avail, (f"{MEMORY_FRACTION:g} of the {fmt_bytes(avail)} this process can still "
                                         "allocate")
    if isinstance(memory_budget, str):
        return parse_bytes(memory_budget), "memory_budget"
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, (int, float, np.integer, np.floating)) \
            or not memory_budget > 0:
        raise ValueError(f"{who}: memory_budget must be a positive number of bytes (or a size such as '8GiB', "
                         f"or float('inf') for no limit), got {memory_budget!r}")
    return float(memory_budget), "memory_budget"


def model_shapes(model):
    """``(parameter leaf sizes, layer sizes)`` of an ``nn.MLP`` or ``nn.Linear`` from its
    description alone (nothing allocated); None for other models."""
    layers = getattr(model, "layers", None)
    if layers is None and hasattr(model, "in_features"):
        layers = [model]
    if not layers or not all(hasattr(l, "in_features") and hasattr(l, "out_features") for l in layers):
        return None
    leaves = []
    for l in layers:
        leaves.append(l.in_features * l.out_features)
        if getattr(l, "bias", True):
            leaves.append(l.out_features)
    return leaves, [layers[0].in_features] + [l.out_features for l in layers]


def _state_per_parameter(optimizer):
    """How many arrays like the parameters the optimizer's state holds (from its
    ``init`` on one parameter); 2 (Adam's) when it cannot tell."""
    try:
        state = optimizer.init({"w": np.zeros(3)})
    except Exception:
        return 2
    return sum(1 for leaf in tree_leaves(state) if np.shape(leaf) == (3,))


def fit_estimate(leaf_sizes, itemsize, widths, batch_size, optimizer, n_val=0, data_bytes=0):
    """``[(what, bytes)]`` that ``nn.fit`` allocates besides the data and the given parameters.

    Args:
      leaf_sizes: the number of values in each parameter array.
      itemsize: bytes per value (8 for float64, 4 for float32).
      widths: the layer sizes ``[n_inputs, hidden..., n_outputs]`` (activations per
        example), or None when unknown (activations not counted).
      batch_size: examples per step; n_val: validation examples.
      optimizer: the step optimizer (its state is measured on one parameter).
      data_bytes: copies of the data that ``fit`` makes (a conversion to the
        parameters' dtype).
    """
    n_params = sum(leaf_sizes)
    p = n_params * itemsize
    largest = max(leaf_sizes, default=0) * itemsize
    k = _state_per_parameter(optimizer)
    name = type(optimizer).__name__.lower()
    parts = [("a working copy of the parameters", p), ("their gradients", p)]
    if k:
        parts.append((f"the {name} state ({k} value{'s' if k > 1 else ''} per parameter)", k * p))
    if hasattr(optimizer, "update_in_place"):      # two scratch blocks of about 64K values
        parts.append(("the update's temporaries", 2 * min(largest, (1 << 16) * itemsize + largest // 100)))
    else:       # a functional update: new parameters and state while the old ones live, and temporaries
        parts.append(("the update's new parameters and state", (k + 2) * p))
    if widths:
        step = STEP_ACTIVATIONS * batch_size * sum(widths) * itemsize
        evaluate = EVAL_ACTIVATIONS * min(n_val, 4096) * sum(widths) * itemsize
        if evaluate > step:
            parts.append((f"the activations of {min(n_val, 4096)} validation examples", evaluate))
        else:
            parts.append((f"the activations of a batch of {batch_size}", step))
    if data_bytes:
        parts.append(("the data converted to the parameters' dtype", data_bytes))
    return parts


def check(parts, budget, how, who, n_params=None, dtype=None):
    """Raise MemoryBudgetError when the ``parts`` (``[(what, bytes)]``) add up to more than ``budget``."""
    total = sum(b for _, b in parts)
    if total <= budget:
        return total
    listed = ", ".join(f"{what} {fmt_bytes(b)}" for what, b in parts if b)
    size = f" ({n_params:,} parameters of {np.dtype(dtype).name})" if n_params is not None else ""
    where = f"memory_budget={int(budget)}" if how == "memory_budget" else how
    raise MemoryBudgetError(
        f"{who}: this training{size} would allocate about {fmt_bytes(total)} ({listed}), over the memory budget of "
        f"{fmt_bytes(budget)} ({where}). Use fewer or smaller hidden layers (--hidden), a smaller batch "
        "(batch_size, --batch-size), float32 parameters (--dtype float32), or sgd, which keeps no moments "
        "(adam keeps two values per parameter); or raise the budget: memory_budget=<bytes> "
        "(--memory-budget 16GiB on the command line).")


def check_params(n_values, itemsize, extra, memory_budget, who):
    """MemoryBudgetError before allocating ``n_values`` parameters (plus ``extra`` bytes of
    temporaries) over the budget."""
    need = n_values * itemsize + extra
    if memory_budget is None and need <= SMALL:
        return
    budget, how = resolve_budget(memory_budget, who)
    if need > budget:
        where = f"memory_budget={int(budget)}" if how == "memory_budget" else how
        raise MemoryBudgetError(
            f"{who}: the parameters would take {fmt_bytes(need)} ({n_values:,} values of {itemsize} bytes"
            + (f", and {fmt_bytes(extra)} while drawing them" if extra else "")
            + f"), over the memory budget of {fmt_bytes(budget)} ({where}). Use fewer or smaller layers, "
            "float32, or raise the budget: memory_budget=<bytes>.")


def check_training(model, dtype, batch_size, n_train, n_val, n_features, optimizer, memory_budget, who):
    """MemoryBudgetError before a model (``nn.MLP`` or ``nn.Linear``) is even initialized,
    when its parameters and ``nn.fit``'s allocations on data of ``n_train`` (and ``n_val``
    validation) float64 rows would be over the budget; returns the estimate in bytes."""
    shapes = model_shapes(model)
    if shapes is None:
        return None
    leaves, widths = shapes
    dtype = np.dtype(dtype)
    data = (n_train + n_val) * n_features * dtype.itemsize if dtype != np.float64 else 0
    parts = [("the parameters", sum(leaves) * dtype.itemsize)]
    parts += fit_estimate(leaves, dtype.itemsize, widths, min(batch_size, max(n_train, 1)), optimizer, n_val, data)
    if memory_budget is None and sum(b for _, b in parts) <= SMALL:
        return sum(b for _, b in parts)
    budget, how = resolve_budget(memory_budget, who)
    return check(parts, budget, how, who, sum(leaves), dtype)
