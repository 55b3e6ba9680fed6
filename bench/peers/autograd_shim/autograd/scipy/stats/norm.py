from ..._forward import forwarding

__getattr__ = forwarding("partiald.scipy.stats.norm", "scipy.stats.norm")
