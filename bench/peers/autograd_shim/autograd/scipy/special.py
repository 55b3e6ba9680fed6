from .._forward import forwarding

__getattr__ = forwarding("partiald.scipy.special", "scipy.special")
