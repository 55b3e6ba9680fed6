"""partiald in five lines: gradient, Jacobian and Hessian of ordinary NumPy code."""
import numpy as np

import partiald as pdx
import partiald.numpy as pnp


def f(x, y):
    return x**2 + 3 * x * y


print("f(x, y) = x^2 + 3xy at (1, 2)")
print("  df/dx =", pdx.grad(f, argnums=0)(1.0, 2.0), "  (2x + 3y = 8)")
print("  df/dy =", pdx.grad(f, argnums=1)(1.0, 2.0), "  (3x = 3)")
print("  Hessian w.r.t. x:", pdx.hessian(f)(1.0, 2.0), "  (2)")

# A least-squares loss over a weight vector: gradient, Jacobian of the residuals, Hessian.
rng = np.random.default_rng(0)
X, y, w = rng.normal(size=(50, 3)), rng.normal(size=50), np.zeros(3)


def loss(w):
    return pnp.mean((X @ w - y) ** 2)


print("\nleast squares, 50 x 3 data")
print("  gradient:        ", pdx.grad(loss)(w))
print("  Jacobian shape:  ", pdx.jacobian(lambda w: X @ w - y)(w).shape)
print("  Hessian (= 2 X^T X / n):\n", pdx.hessian(loss)(w))
print("\nthe traced program of f:")
print(pdx.make_graph(f)(1.0, 2.0))
