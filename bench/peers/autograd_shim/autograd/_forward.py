"""The one mechanism behind the shim's modules: a name comes from partiald's
module (or namespace) of the same role where it has it, else from NumPy's or
SciPy's, whose functions fail on traced values with partiald's own error."""
import importlib


def _resolve(path):
    """The object at a dotted ``path`` such as ``scipy.stats.norm``, or None."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr, None)
        return obj
    return None


def forwarding(partiald_path, fallback_path):
    """A module ``__getattr__`` looking names up in ``partiald_path``, then ``fallback_path``."""
    def __getattr__(name):
        for path in (partiald_path, fallback_path):
            obj = _resolve(path)
            if obj is not None and hasattr(obj, name):
                return getattr(obj, name)
        raise AttributeError(f"neither {partiald_path} nor {fallback_path} has {name!r}")
    return __getattr__
