from .._forward import forwarding

__getattr__ = forwarding("partiald.numpy.fft", "numpy.fft")
