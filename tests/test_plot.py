"""partiald.plot: every picture is rendered to PNG and read back.

Checks that can fail: the file is a real, non-blank image; the Figure holds
the expected lines, arrows and collections; axis labels name the variables
and the derivative; the tangent's slope read back from the plotted data is the
partial derivative; gradient arrows point along partiald's gradient; NaN
regions are masked; the command line writes a PNG and exits 2 on bad input.
"""
import io
import pathlib
import runpy
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.quiver import Quiver  # noqa: E402

import partiald as pdx  # noqa: E402
import partiald.numpy as pnp  # noqa: E402
from partiald import expr, plot  # noqa: E402

# matplotlib warnings (a missing glyph, a layout that does not fit) fail a test
pytestmark = pytest.mark.filterwarnings("error")

ROOT = pathlib.Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def rendered(fig, tmp_path, name="fig.png", dpi=60):
    """Save to PNG and check it: signature, size, and that it is not blank.
    Returns the pixels (H, W, channels) in [0, 1]."""
    from matplotlib.image import imread
    path = tmp_path / name
    fig.savefig(path, dpi=dpi)
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 5_000
    img = imread(path)
    h, w = img.shape[:2]
    assert h >= 200 and w >= 200
    rgb = img[..., :3]
    assert (rgb.min(axis=2) < 0.9).mean() > 0.05, "the image is almost all white"
    assert len(np.unique((rgb * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 30
    return img


def by_gid(ax, gid):
    found = [a for a in list(ax.lines) + list(ax.texts) + list(ax.collections) + list(ax.patches)
             if a.get_gid() == gid]
    assert len(found) == 1, f"expected one artist {gid!r}, found {len(found)}"
    return found[0]


def quivers(ax):
    return [c for c in ax.collections if isinstance(c, Quiver)]


def legend_texts(fig):
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [t.get_text() for lg in legends for t in lg.get_texts()]


def bowl_fn(x, y):
    return pnp.sin(x) * pnp.cos(y) + 0.1 * x ** 2


# -- import and headless behaviour ---------------------------------------------------------

def test_matplotlib_is_imported_only_when_drawing_and_pyplot_never(tmp_path):
    code = ("import sys, partiald, partiald.plot\n"
            "assert 'matplotlib' not in sys.modules, 'imported at partiald import time'\n"
            "from partiald import plot\n"
            "plot.slices('x^2 + 3*x*y', at={'x': 1, 'y': 2}).savefig(sys.argv[1])\n"
            "assert 'matplotlib' in sys.modules\n"
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot (a GUI backend) was imported'\n")
    out = tmp_path / "probe.png"
    r = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:8] == PNG_SIGNATURE


def test_missing_matplotlib_names_the_install_command(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from partiald import plot\n"
            "calls = [lambda: plot.slices('x^2', at={'x': 1}), lambda: plot.contour('x*y'),\n"
            "         lambda: plot.surface('x*y'), lambda: plot.loss_curve([1.0, 0.5]),\n"
            "         lambda: plot.convergence([1.0, 0.5])]\n"
            "for call in calls:\n"
            "    try:\n"
            "        call()\n"
            "    except ImportError as e:\n"
            "        print(e)\n"
            "from partiald.cli import main\n"
            "sys.exit(main(['plot', 'x^2', '-o', 'never.png']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.stdout.count('pip install "partiald[plot]"') == 5, r.stdout + r.stderr
    assert r.returncode == 1
    assert 'pip install "partiald[plot]"' in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "never.png").exists()


def test_figures_are_plain_figures_on_a_headless_canvas():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = plot.slices("x^2 + 3*x*y", at={"x": 1, "y": 2})
    assert isinstance(fig, Figure) and isinstance(fig.canvas, FigureCanvasAgg)


# -- slices --------------------------------------------------------------------------------

def test_slices_picture(tmp_path):
    fig = plot.slices("x^2 + 3*x*y", at={"x": 1, "y": 2})
    rendered(fig, tmp_path)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_xlabel() for ax in axes] == ["x", "y"]
    assert [ax.get_ylabel() for ax in axes] == ["f(x; y=2)", "f(y; x=1)"]
    assert axes[0].get_title() == "∂f/∂x = 2x + 3y = 8"
    assert axes[1].get_title() == "∂f/∂y = 3x = 3"
    for ax, v, slope in zip(axes, "xy", (8, 3)):
        assert len(ax.lines) == 4            # the slice, its tangent, the point, a vertical guide
        for gid in (f"curve:{v}", f"tangent:{v}", f"point:{v}", f"guide:{v}"):
            by_gid(ax, gid)
        assert by_gid(ax, f"slope:{v}").get_text() == f"slope {slope}"
        assert f"tangent: slope ∂f/∂{v} = {slope}" in legend_texts(fig)
    assert "slices at x = 1, y = 2" in fig.get_suptitle()


SLOPE_CASES = [
    ("x^2 + 3*x*y", {"x": 1, "y": 2}),
    ("exp(-x^2 - y^2)*sin(3*x) + tanh(x*y)", {"x": 0.3, "y": -0.7}),
    ("log(x) + 1/y + z^2*x", {"x": 0.5, "y": 1.5, "z": -1.25}),
    ("sqrt(x)*sigmoid(y) + 100*x^3", {"x": 2.0, "y": 0.25}),
]


@pytest.mark.parametrize("formula,at", SLOPE_CASES, ids=[c[0] for c in SLOPE_CASES])
def test_tangent_slope_read_back_is_the_partial_derivative(formula, at):
    f = expr(formula)
    fig = plot.slices(f, at=at)
    f0 = f(**at)
    for ax, v in zip(fig.axes, f.variables):
        xs, ys = by_gid(ax, f"tangent:{v}").get_data()
        slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
        expected = f.diff(v)(**at)
        assert slope == pytest.approx(expected, rel=1e-9, abs=1e-9)
        # the line goes through (at[v], f(at)): a tangent, not just a parallel line
        assert ys[0] + slope * (at[v] - xs[0]) == pytest.approx(f0, rel=1e-9, abs=1e-9)
        assert xs[0] < at[v] < xs[1]
        # and touches the plotted curve there
        cx, cy = by_gid(ax, f"curve:{v}").get_data()
        assert np.interp(at[v], cx, cy) == pytest.approx(f0, rel=1e-3, abs=1e-3)


def test_slices_of_a_python_function_use_partiald_gradients():
    fig = plot.slices(bowl_fn, at={"x": 1.0, "y": 0.5})
    gx, gy = pdx.grad(bowl_fn, argnums=(0, 1))(1.0, 0.5)
    for ax, v, g in zip(fig.axes, "xy", (gx, gy)):
        xs, ys = by_gid(ax, f"tangent:{v}").get_data()
        assert (ys[1] - ys[0]) / (xs[1] - xs[0]) == pytest.approx(g, rel=1e-9, abs=1e-12)
        assert ax.get_title() == f"∂f/∂{v} = {float(g):.4g}"


def test_slices_leave_undefined_stretches_blank():
    fig = plot.slices("log(x) + 1/y", at={"x": 0.5, "y": 1.0})
    cx, cy = by_gid(fig.axes[0], "curve:x").get_data()
    assert np.isnan(cy[cx <= 0]).all() and np.isfinite(cy[cx > 0.05]).all()
    cy2 = by_gid(fig.axes[1], "curve:y").get_data()[1]
    assert np.isnan(cy2).any()         # the pole of 1/y is a gap, not a vertical line


# -- contour -------------------------------------------------------------------------------

def test_contour_picture(tmp_path):
    history = [{"x": np.array([-1.5, 2.5]), "f": 1.0, "grad_norm": 3.0, "step": 0.1},
               {"x": np.array([-1.0, 2.0]), "f": 0.5, "grad_norm": 2.0, "step": 0.1},
               {"x": np.array([0.0, 0.5]), "f": 0.1, "grad_norm": 1.0, "step": 0.1},
               {"x": np.array([1.0, 1.0]), "f": 0.0, "grad_norm": 0.0, "step": 0.1}]
    newton = np.array([[-1.5, 2.5], [1.0, 1.0]])
    fig = plot.contour("(1-x)^2 + 10*(y-x^2)^2", (-2, 2), (-1, 3), path={"gd": history, "newton": newton},
                       at={"x": -1, "y": 0})
    rendered(fig, tmp_path)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
    assert "∇f = (∂f/∂x, ∂f/∂y)" in ax.get_title()
    assert ax.get_xlim() == (-2, 2) and ax.get_ylim() == (-1, 3)
    # collections: filled levels, level lines, one Quiver of gradient arrows
    assert sorted(str(c.get_gid()) for c in ax.collections) == ["gradient", "level-lines", "levels"]
    assert len(quivers(ax)) == 1
    # lines: per path the path, its start and its end; plus the marked point
    assert len(ax.lines) == 2 * 3 + 1
    np.testing.assert_array_equal(np.column_stack(by_gid(ax, "path:gd").get_data()),
                                  np.array([h["x"] for h in history]))
    np.testing.assert_array_equal(by_gid(ax, "end:newton").get_data(), ([1.0], [1.0]))
    labels = legend_texts(fig)
    assert "gd (3 steps)" in labels and "newton (1 step)" in labels and "start" in labels and "end" in labels
    assert any(t.startswith("steepest descent −∇f = (44, 20) at (-1, 0)") for t in labels)
    assert {a.get_ylabel() for a in fig.axes[1:]} == {"|∇f| (arrow color)", "f(x, y)"}


def test_descent_arrow_points_along_minus_gradient():
    f = expr("x^2 + 3*y^2 - x*y")
    fig = plot.contour(f, (-2, 2), (-1, 1), at={"x": 1, "y": 0.5})
    arrow = by_gid(fig.axes[0], "descent")
    d = np.subtract(arrow.xy, arrow.xyann)
    g = np.array([f.diff("x")(x=1, y=0.5), f.diff("y")(x=1, y=0.5)])
    assert d[0] * g[1] - d[1] * g[0] == pytest.approx(0, abs=1e-12)     # parallel
    assert d @ g < 0                                                     # and downhill


@pytest.mark.parametrize("f", ["sin(x)*cos(y) + 0.1*x^2", bowl_fn], ids=["expr", "function"])
@pytest.mark.parametrize("normalize", [True, False])
def test_gradient_arrows_are_partiald_gradients(f, normalize):
    fig = plot.contour(f, (-3, 3), (-3, 3), normalize=normalize)
    (q,) = quivers(fig.axes[0])
    n = int(round(np.sqrt(q.N)))
    assert 15 <= n <= 25 and n * n == q.N          # a readable density
    X, Y = np.asarray(q.X), np.asarray(q.Y)
    gx, gy = pdx.grad(lambda a, b: pnp.sum(bowl_fn(a, b)), argnums=(0, 1))(X, Y)
    U, V = np.asarray(q.U), np.asarray(q.V)
    # the same direction as partiald's gradient (uphill) ...
    np.testing.assert_allclose(U * gy - V * gx, 0, atol=1e-9 * np.abs(U * gy).max())
    assert (U * gx + V * gy > 0).all()
    lengths = np.hypot(U, V)
    mags = np.hypot(gx, gy)
    if normalize:          # ... equal lengths, the color tells the magnitude
        np.testing.assert_allclose(lengths, lengths[0], rtol=1e-9)
    else:                  # ... lengths proportional to |∇f|
        np.testing.assert_allclose(lengths / mags, (lengths / mags)[0], rtol=1e-9)
    np.testing.assert_allclose(np.asarray(q.get_array()), mags, rtol=1e-9)


def test_nan_regions_are_masked(tmp_path):
    def f(x, y):
        return pnp.log(x) + y ** 2
    for g in ("log(x) + y^2", f):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fig = plot.contour(g, (-2, 2), (-2, 2), at={"x": 1, "y": 1})
            rendered(fig, tmp_path)
        ax = fig.axes[0]
        (q,) = quivers(ax)
        assert (np.asarray(q.X) > 0).all()              # no arrows where f is undefined
        assert np.isfinite(np.asarray(q.U)).all()
        levels = by_gid(ax, "levels")
        assert levels.levels.size > 5 and np.isfinite(levels.levels).all()
        by_gid(ax, "undefined")                          # hatched, and said so in the legend
        assert "f undefined (NaN/inf)" in legend_texts(fig)
    fig = plot.surface("log(x)*y", (-1, 2), (-1, 2), at={"x": 1, "y": 1})
    rendered(fig, tmp_path, "surface.png")


def test_contour_calls_a_python_function_a_few_times_not_per_point():
    calls = []

    def f(x, y):
        calls.append(np.shape(x))
        return x ** 2 + pnp.sin(y)
    plot.contour(f, (-1, 1), (-1, 1), at={"x": 0.5, "y": 0.5}, n=150)
    assert len(calls) <= 6
    assert (150, 150) in calls


# -- paths ---------------------------------------------------------------------------------

PTS = np.array([[-1.0, 2.0], [0.0, 1.0], [0.5, 0.5]])
PATH_FORMS = {
    "records with arrays": [{"x": p, "f": 0.0, "grad_norm": 1.0, "step": 0.1} for p in PTS],
    "records with dicts": [{"x": {"x": a, "y": b}, "f": 0.0} for a, b in PTS],
    "records with tuples": [{"x": (a, b)} for a, b in PTS],
    "array": PTS,
    "list of points": PTS.tolist(),
    "result object": types.SimpleNamespace(history=[{"x": p} for p in PTS], method="newton"),
}


@pytest.mark.parametrize("form", PATH_FORMS, ids=list(PATH_FORMS))
def test_path_forms(form):
    fig = plot.contour("x^2 + y^2", (-2, 2), (-1, 3), gradient=False, path=PATH_FORMS[form])
    ax = fig.axes[0]
    name = "newton" if form == "result object" else "path"
    np.testing.assert_array_equal(np.column_stack(by_gid(ax, f"path:{name}").get_data()), PTS)
    assert f"{name} (2 steps)" in legend_texts(fig)


def test_several_paths_get_a_legend_each():
    runs = [types.SimpleNamespace(history=[{"x": p} for p in PTS], method=m) for m in ("gd", "adam")]
    fig = plot.contour("x^2 + y^2", (-2, 2), (-1, 3), gradient=False, path=runs)
    assert {"gd (2 steps)", "adam (2 steps)"} <= set(legend_texts(fig))


def test_three_variables_with_one_held_fixed():
    path = [{"x": np.array([0.1, 0.2, 0.3])}, {"x": np.array([0.0, 1.0, 0.0])}]
    fig = plot.contour("x^2 + y*z + z^2", (-2, 2), (-2, 2), variables=("x", "z"), at={"x": 0, "y": 1, "z": 0},
                       path=path)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "z")
    assert "y = 1 held fixed" in ax.get_title()
    np.testing.assert_array_equal(np.column_stack(by_gid(ax, "path:path").get_data()), [[0.1, 0.3], [0.0, 0.0]])


# -- surface -------------------------------------------------------------------------------

def test_surface_picture_and_tangent_slopes(tmp_path):
    f = expr("sin(x)*cos(y) + x*y/4")
    at = {"x": 0.5, "y": 1.0}
    fig = plot.surface(f, (-3, 3), (-3, 3), at=at)
    rendered(fig, tmp_path)
    ax = fig.axes[0]
    assert ax.name == "3d"
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()) == ("x", "y", "f(x, y)")
    assert len(ax.lines) == 5                # two slices, two tangents, the point
    assert sum(c.get_gid() == "surface" for c in ax.collections) == 1
    f0 = f(**at)
    for i, v in enumerate("xy"):
        xs, ys, zs = by_gid(ax, f"tangent:{v}").get_data_3d()
        t = (xs, ys)[i]
        held = (ys, xs)[i]
        assert np.all(held == at["yx"[i]])
        slope = (zs[1] - zs[0]) / (t[1] - t[0])
        assert slope == pytest.approx(f.diff(v)(**at), rel=1e-9)
        assert zs[0] + slope * (at[v] - t[0]) == pytest.approx(f0, rel=1e-9)
    assert any(s.startswith("tangent along x: slope ∂f/∂x = ") for s in legend_texts(fig))


# -- loss and convergence curves -----------------------------------------------------------

def test_loss_curve_from_dict_and_records(tmp_path):
    loss = [1.0, 0.6, 0.4, 0.3, 0.25]
    val = [1.1, 0.8, 0.6, 0.62, 0.7]
    acc = [0.5, 0.7, 0.8, 0.85, 0.9]
    d = {"loss": loss, "val_loss": val, "accuracy": acc, "val_accuracy": [a - 0.1 for a in acc]}
    recs = [{"epoch": i + 1, "loss": a, "val_loss": b, "accuracy": c, "val_accuracy": c - 0.1}
            for i, (a, b, c) in enumerate(zip(loss, val, acc))]
    figs = [plot.loss_curve(d), plot.loss_curve(recs)]
    rendered(figs[0], tmp_path)
    for fig in figs:
        ax_loss, ax_acc = fig.axes
        assert (ax_loss.get_xlabel(), ax_loss.get_ylabel()) == ("epoch", "loss")
        assert ax_acc.get_ylabel() == "accuracy"
        np.testing.assert_array_equal(by_gid(ax_loss, "metric:loss").get_data()[1], loss)
        np.testing.assert_array_equal(by_gid(ax_loss, "metric:val_loss").get_data(), ([1, 2, 3, 4, 5], val))
        assert by_gid(ax_loss, "metric:val_loss").get_linestyle() == "--"
        assert by_gid(ax_loss, "best:val_loss").get_data() == ([3], [0.6])
        assert by_gid(ax_acc, "best:val_accuracy").get_data()[0] == [5]       # accuracy: higher is better
        assert "best validation loss: 0.6 (epoch 3)" in legend_texts(fig)


def test_loss_curve_plain_list_and_log_scale():
    fig = plot.loss_curve([1.0, 0.1, 0.01], logy=True)
    assert fig.axes[0].get_yscale() == "log"
    assert legend_texts(fig) == ["training loss"]


def test_convergence(tmp_path):
    gd = [{"x": np.zeros(2), "f": 1.0, "grad_norm": 10 * 0.8 ** k, "step": 0.1} for k in range(50)]
    newton = types.SimpleNamespace(method="newton", history=[{"x": np.zeros(2), "grad_norm": g}
                                                             for g in (10.0, 1.0, 1e-3, 1e-9, 0.0)])
    fig = plot.convergence({"gd": gd, "newton": newton}, tol=1e-8, values=False)
    rendered(fig, tmp_path)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "iteration" and "|∇f|" in ax.get_ylabel()
    assert len(ax.lines) == 3
    np.testing.assert_allclose(by_gid(ax, "run:gd").get_data()[1], [r["grad_norm"] for r in gd])
    labels = legend_texts(fig)
    assert "newton: 4 iterations, final |∇f| = 0" in labels and "tolerance 1e-08" in labels
    fig = plot.convergence([newton, [3.0, 1.0, 0.5]])
    assert legend_texts(fig)[0].startswith("newton: ") and legend_texts(fig)[1].startswith("run 2: ")


# -- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("call,message", [
    (lambda: plot.contour("x^2"), "two variables"),
    (lambda: plot.contour("x*y", xlim=(1, -1)), "low < high"),
    (lambda: plot.contour("x*y", at={"x": 1, "w": 2}), "does not use"),
    (lambda: plot.slices("log(x) + y", at={"x": -1, "y": 0}), "not defined"),
    (lambda: plot.contour("x*y", path=[{"f": 1.0}]), "no 'x' entry"),
    (lambda: plot.contour("x*y", path=np.zeros((3, 5))), "shape"),
    (lambda: plot.contour("log(-1 - x^2) + y"), "undefined"),
    (lambda: plot.loss_curve({"epoch": [1, 2]}), "no numeric metrics"),
])
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bad_function_raises_type_error():
    with pytest.raises(TypeError, match="cannot plot"):
        plot.slices(42)


# -- command line --------------------------------------------------------------------------

def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "partiald", "plot", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def cli_in_process(*args):
    from partiald.cli import main
    out, err = io.StringIO(), io.StringIO()
    return main(["plot", *args], out, err), out.getvalue(), err.getvalue()


@pytest.mark.parametrize("extra", [[], ["--kind", "contour", "--xlim", "-2", "2"]], ids=["slices", "contour"])
def test_cli_writes_a_png(tmp_path, extra):
    out = tmp_path / "out.png"
    r = cli("x^2 + 3*x*y", "--at", "x=1,y=2", "-o", str(out), "--dpi", "50", *extra)
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 10_000
    assert str(out) in r.stdout


def test_cli_surface_and_svg(tmp_path):
    for name, kind in (("s.png", "surface"), ("c.svg", "contour")):
        rc, out, err = cli_in_process("sin(x)*cos(y)", "--kind", kind, "--at", "x=0.5,y=pi/4", "--dpi", "40",
                                      "-o", str(tmp_path / name))
        assert rc == 0, err
    assert (tmp_path / "s.png").read_bytes()[:8] == PNG_SIGNATURE
    assert (tmp_path / "c.svg").read_text().lstrip().startswith("<?xml")


def test_cli_bad_formula_exits_2(tmp_path):
    r = cli("x^2 +", "-o", "bad.png", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("partiald: error: could not read the formula") and "Traceback" not in r.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args", [
    ["x^2", "--at", "y=1"],                                # a variable the formula lacks
    ["x^2", "--at", "x=1,y"],                              # not name=value
    ["x^2", "--kind", "contour"],                          # one variable, two needed
    ["x*y", "--kind", "contour", "--xlim", "2", "1"],      # empty range
    ["x*y", "--kind", "contour", "--ylim", "0", "z"],      # not a number
    ["x*y", "--kind", "pie"],
    ["log(x)", "--at", "x=-1"],                            # undefined at the point
    ["x*y", "--dpi", "0"],
])
def test_cli_bad_input_exits_2(tmp_path, args):
    rc, out, err = cli_in_process(*args, "-o", str(tmp_path / "bad.png"))
    assert rc == 2, (out, err)
    assert err.startswith("partiald: error: ") and "Traceback" not in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("target", ["bad.unknown-format", "no/such/dir/out.png"])
def test_cli_bad_output_fails_before_drawing(tmp_path, target):
    rc, out, err = cli_in_process("x*y", "-o", str(tmp_path / target))
    assert rc == 2 and err.startswith("partiald: error: ")
    assert not list(tmp_path.iterdir())


def test_cli_needs_an_output_file():
    rc, out, err = cli_in_process("x*y")
    assert rc == 2 and "-o/--output" in err


# -- static checks and the docs pictures ---------------------------------------------------

@pytest.mark.parametrize("module", ["figures", "curves"])
def test_docstring_examples_run(module):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(f"partiald.plot.{module}"))
    assert result.attempted > 0 and result.failed == 0


def test_no_finite_difference_gradients_in_plot_sources():
    for path in (ROOT / "src" / "partiald" / "plot").glob("*.py"):
        assert "gradient(" not in path.read_text().replace("_gradient_arrows(", ""), path


def test_docs_figures_regenerate_small(tmp_path):
    runpy.run_path(str(ROOT / "docs" / "make_figures.py"))["main"](tmp_path)
    for name in ("slices.png", "contour.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == PNG_SIGNATURE and 20_000 < len(data) < 150_000


def test_minimize_plot_draws_every_method_path(tmp_path):
    out = tmp_path / "paths.png"
    r = subprocess.run([sys.executable, "-m", "partiald", "minimize", "(1-x)^2 + 100*(y-x^2)^2",
                        "--start", "x=-1.2,y=1", "--method", "newton", "--compare", "lbfgs",
                        "--plot", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "newton, lbfgs" in r.stdout
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_contour_logscale_auto_and_checked():
    from matplotlib.colors import LogNorm

    def norm(fig):
        return next(c for c in fig.axes[0].collections if c.get_gid() == "levels").norm
    assert isinstance(norm(plot.contour("(1-x)^2 + 100*(y-x^2)^2", (-2, 2), (-1, 3), gradient=False,
                                        logscale="auto")), LogNorm)
    assert not isinstance(norm(plot.contour("x^2 + y^2 - 10", gradient=False, logscale="auto")), LogNorm)
    with pytest.raises(ValueError, match="needs f > 0 in the whole box"):
        plot.contour("x^2 + y^2 - 10", logscale=True)
    fig = plot.contour("x^2 + y^2", arrow_colorbar=False)
    assert len(fig.axes) == 2          # the plot and the one colour bar of f


def test_iterates_picture(tmp_path):
    res = pdx.optim.minimize(lambda p: p[0] ** 2, np.array([1.0]), method="gd", lr=0.95, max_iter=5)
    fig = plot.iterates("x^2", {"gd": res})
    fig.savefig(tmp_path / "it.png", dpi=60)        # a line picture: mostly white, so not rendered()
    from matplotlib.image import imread
    img = imread(tmp_path / "it.png")[..., :3]
    assert (tmp_path / "it.png").read_bytes()[:8] == PNG_SIGNATURE and (img.min(axis=2) < 0.9).mean() > 0.02
    red = (img[..., 0] > 0.6) & (img[..., 1] < 0.35) & (img[..., 2] < 0.35)
    assert red.mean() > 0.003, "the iterates and tangents (red) are not in the picture"
    ax = fig.axes[0]
    assert [ln.get_gid() for ln in ax.get_lines()][:2] == ["curve", "iterates:gd"]
    tx, ty = by_gid(ax, "tangent:gd:0").get_data()
    assert (ty[1] - ty[0]) / (tx[1] - tx[0]) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="one variable"):
        plot.iterates("x*y", [1.0, 2.0])
