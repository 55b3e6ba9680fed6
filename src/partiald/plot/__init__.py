"""Pictures of partial derivatives (matplotlib, the optional extra ``plot``).

    from partiald import plot
    plot.slices("x^2 + 3*x*y", at={"x": 1, "y": 2})        # f along x and along y, tangent slopes
    plot.contour(f, (-2, 2), (-1, 3), path=res.history)    # level sets, ∇f arrows, descent path
    plot.surface(f, (-2, 2), (-2, 2), at={"x": 1, "y": 0})  # 3-D surface with its two tangents
    plot.loss_curve(history)                                # training / validation per epoch
    plot.convergence({"gd": res_gd, "newton": res_newton})  # |∇f| (log scale) and f per iteration
    plot.iterates("x^2", res.history)                       # f(x), the iterates and their tangent lines

``f`` may be an Expr, formula text or a Python function of scalars written with
``partiald.numpy``; its partial derivatives come from partiald (exact formulas,
or one reverse-mode pass over the whole grid), never from finite differences.
Each function returns a matplotlib ``Figure`` on a headless Agg canvas (no
window, no pyplot state): ``fig.savefig("out.png")``. matplotlib is imported
only when a figure is drawn; without it the call raises ImportError naming
``pip install "partiald[plot]"``.
"""
from .curves import convergence, loss_curve
from .figures import contour, iterates, slices, surface

__all__ = ["slices", "contour", "surface", "iterates", "loss_curve", "convergence"]
