from ..._forward import forwarding

__getattr__ = forwarding("partiald.scipy.stats.beta", "scipy.stats.beta")
