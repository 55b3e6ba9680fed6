"""Regenerate the README's pictures: docs/slices.png and docs/contour.png.

    python docs/make_figures.py            # writes next to this file
    python docs/make_figures.py /tmp/out   # or into another folder

slices.png: f(x, y) = x^2 + 3xy along x and along y through (1, 2), with the
tangent lines whose slopes are the partial derivatives 8 and 3.
contour.png: level sets of a Rosenbrock valley, the gradient field, the
steepest-descent direction at a point, and the paths of three optimizers
(momentum, gradient descent, Newton) from the same start: each is the
``res.history`` of ``partiald.optim.minimize``.
"""
import pathlib
import sys

import numpy as np

from partiald import optim, plot

#: the pictures are shown in the README; keep them small
MAX_BYTES = 150_000


def rosenbrock(p):
    """The valley below, as NumPy code for the optimizers: f(x, y) with p = (x, y)."""
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 10 * (y - x ** 2) ** 2


def descent_paths(x0):
    """Three optimizers from the same start; each ``res.history`` is one path."""
    x0 = np.asarray(x0, dtype=np.float64)
    return {"momentum": optim.minimize(rosenbrock, x0, method="momentum", lr=0.002, momentum=0.9, max_iter=300),
            "gradient descent": optim.minimize(rosenbrock, x0, method="gd", lr=0.004, max_iter=300),
            "newton": optim.minimize(rosenbrock, x0, method="newton")}


def save_small(fig, path, dpi):
    """Save a PNG; quantize it to 256 colors when it would exceed MAX_BYTES."""
    fig.savefig(path, dpi=dpi)
    if path.stat().st_size > MAX_BYTES:
        from PIL import Image
        Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
    size = path.stat().st_size
    print(f"wrote {path} ({size / 1000:.0f} KB)")
    if size > MAX_BYTES:
        raise SystemExit(f"{path} is larger than {MAX_BYTES} bytes: lower the dpi")


def main(out_dir):
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    fig = plot.slices("x^2 + 3*x*y", at={"x": 1, "y": 2})
    save_small(fig, out / "slices.png", dpi=90)

    runs = descent_paths((-1.2, 2.2))
    fig = plot.contour("(1 - x)^2 + 10*(y - x^2)^2", (-2, 2), (-1, 3), path=runs, at={"x": 0.4, "y": 2.6},
                       logscale=True)
    save_small(fig, out / "contour.png", dpi=90)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent)
