import numpy.fft as _o

try:
    import partiald.numpy.fft as _p
except ImportError:  # partiald has no such module yet
    _p = None


def __getattr__(name):
    if _p is not None:
        try:
            return getattr(_p, name)
        except AttributeError:
            pass
    return getattr(_o, name)
