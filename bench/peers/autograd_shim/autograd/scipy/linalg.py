from .._forward import forwarding

__getattr__ = forwarding("partiald.scipy.linalg", "scipy.linalg")
