from ..._forward import forwarding

__getattr__ = forwarding("partiald.scipy.stats.multivariate_normal", "scipy.stats.multivariate_normal")
