from .._forward import forwarding

__getattr__ = forwarding("partiald.scipy.misc", "scipy")   # scipy.misc is gone from SciPy
