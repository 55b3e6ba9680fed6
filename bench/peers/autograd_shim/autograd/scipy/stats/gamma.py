from ..._forward import forwarding

__getattr__ = forwarding("partiald.scipy.stats.gamma", "scipy.stats.gamma")
