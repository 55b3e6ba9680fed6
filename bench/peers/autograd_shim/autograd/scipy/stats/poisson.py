from ..._forward import forwarding

__getattr__ = forwarding("partiald.scipy.stats.poisson", "scipy.stats.poisson")
