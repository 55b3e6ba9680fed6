from ..._forward import forwarding

__getattr__ = forwarding("partiald.scipy.stats.dirichlet", "scipy.stats.dirichlet")
