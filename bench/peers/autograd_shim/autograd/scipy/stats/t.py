from ..._forward import forwarding

__getattr__ = forwarding("partiald.scipy.stats.t", "scipy.stats.t")
