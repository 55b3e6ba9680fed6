from ..._forward import forwarding

__getattr__ = forwarding("partiald.scipy.stats.chi2", "scipy.stats.chi2")
