"""autograd.extend's primitive/defvjp/defjvp, over partiald.custom_vjp and
custom_jvp (a function gets its derivative rules after it is wrapped, as in
autograd)."""
import functools

import partiald as _pdx


class _Primitive:
    def __init__(self, fun):
        self.fun = fun
        self.vjps = None
        self.jvps = None
        functools.update_wrapper(self, fun)

    def __call__(self, *args, **kwargs):
        f = functools.partial(self.fun, **kwargs) if kwargs else self.fun
        if self.vjps is not None:
            makers = self.vjps

            def fwd(*a):
                ans = f(*a)
                return ans, (ans, a)

            def bwd(res, g):
                ans, a = res
                return tuple(0.0 * x if m is None else m(ans, *a, **kwargs)(g)
                             for m, x in zip(makers, a))
            c = _pdx.custom_vjp(f)
            c.defvjp(fwd, bwd)
            return c(*args)
        if self.jvps is not None:
            makers = self.jvps
            c = _pdx.custom_jvp(f)

            @c.defjvp
            def _jvp(primals, tangents):
                ans = f(*primals)
                out = 0.0
                for m, t in zip(makers, tangents):
                    if m is not None:
                        out = out + m(t, ans, *primals, **kwargs)
                return ans, out
            return c(*args)
        # autograd: a primitive without rules cannot be differentiated
        c = _pdx.custom_jvp(f)

        @c.defjvp
        def _no_jvp(primals, tangents):
            raise NotImplementedError(f"no derivative rule defined for {self.__name__}")
        return c(*args)


def primitive(f):
    return _Primitive(f)


def defvjp(prim, *makers, argnums=None):
    prim.vjps = makers


def defjvp(prim, *makers, argnums=None):
    prim.jvps = makers
