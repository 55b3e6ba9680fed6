"""``partiald minimize``: its pictures (``--plot``, any number of variables), its table
(parameter values, ``--compare``), its one default tolerance and its honesty about
points that are not minima (issue 13, items 10-12).

Pictures are checked twice: as Figures (captured on their way to the file, so the
colour scale, colour bars, paths and tangent lines can be read back) and as the PNG
files the real command writes.
"""
import io
import json
import subprocess
import sys

import numpy as np
import pytest

import partiald.numpy as pnp
from partiald import optim
from partiald.cli import main
from partiald.optim import solvers

PNG = b"\x89PNG\r\n\x1a\n"


def cli(*args):
    """The real command line, in a subprocess: (status, stdout, stderr)."""
    r = subprocess.run([sys.executable, "-m", "partiald", "minimize", *args], capture_output=True, text=True,
                       timeout=120)
    return r.returncode, r.stdout, r.stderr


@pytest.fixture
def drawn(monkeypatch):
    """Run ``partiald minimize`` in this process and keep the Figure it saves."""
    pytest.importorskip("matplotlib")
    import partiald.plot.cli as plot_cli
    figs = []
    save = plot_cli._save

    def keep(fig, dest, dpi):
        figs.append(fig)
        return save(fig, dest, dpi)
    monkeypatch.setattr(plot_cli, "_save", keep)

    def run(*args):
        out, err = io.StringIO(), io.StringIO()
        status = main(["minimize", *args], out=out, err=err)
        return status, out.getvalue(), err.getvalue(), (figs[-1] if figs else None)
    return run


def _levels(fig):
    ax = fig.axes[0]
    filled = next(c for c in ax.collections if c.get_gid() == "levels")
    return filled


# -- item 10: the descent picture of two variables --------------------------------------------

@pytest.mark.parametrize("formula,start", [("x^2 + y^2 - 10", "x=1,y=2"),
                                           ("0.1 - 3*exp(-(x^2 + y^2))", "x=1,y=1"),
                                           ("-3 + 0.01*(x^2 + y^2)", "x=1,y=2")])
def test_plot_of_a_function_not_positive_gets_linear_levels(drawn, tmp_path, formula, start):
    from matplotlib.colors import LogNorm
    status, out, err, fig = drawn(formula, "--start", start, "--method", "lbfgs", "--plot", str(tmp_path / "p.png"))
    assert status == 0, err
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG
    filled = _levels(fig)
    assert not isinstance(filled.norm, LogNorm)
    assert len(filled.levels) >= 10, "the level sets are missing"
    # the level values cover what f takes in the picture (not a sliver of 1e-2..1e-1)
    assert filled.levels[0] < -1


def test_plot_uses_log_levels_where_f_is_positive_and_spans_decades(drawn, tmp_path):
    from matplotlib.colors import LogNorm
    status, _, err, fig = drawn("(1-x)^2 + 100*(y-x^2)^2", "--start", "x=-1.2,y=1", "--method", "newton",
                                "--compare", "lbfgs", "--plot", str(tmp_path / "p.png"))
    assert status == 0, err
    assert isinstance(_levels(fig).norm, LogNorm)
    # a positive bowl whose lowest tenth is small: linear levels show it fine
    status, _, err, fig = drawn("x^2 + y^2 + 1", "--start", "x=1,y=1", "--plot", str(tmp_path / "q.png"))
    assert status == 0 and not isinstance(_levels(fig).norm, LogNorm)


def test_log_option(drawn, tmp_path):
    from matplotlib.colors import LogNorm
    status, _, err, fig = drawn("x^2 + y^2 + 1", "--start", "x=1,y=1", "--log", "--plot", str(tmp_path / "p.png"))
    assert status == 0 and isinstance(_levels(fig).norm, LogNorm), err
    # --log where f is not positive: a note, linear levels, no error after the table
    status, out, err, fig = drawn("x^2 + y^2 - 10", "--start", "x=1,y=1", "--log", "--plot",
                                  str(tmp_path / "q.png"))
    assert status == 0 and "--log needs f > 0" in err and not isinstance(_levels(fig).norm, LogNorm)
    status, out, err, _ = drawn("x^2 + y^2", "--start", "x=1,y=1", "--log")
    assert status == 2 and "--plot" in err and out == ""


def test_descent_picture_has_one_colour_bar_a_title_that_fits_and_paths_told_apart(drawn, tmp_path):
    formula = "(1-x)^2 + 100*(y-x^2)^2 + 0.001*sin(3*x)*cos(5*y) + 0.002*exp(0.1*x*y) + 0.003*tanh(x - y)"
    status, _, err, fig = drawn(formula, "--start", "x=-1.2,y=1", "--method", "newton", "--compare", "lbfgs,adam",
                                "--plot", str(tmp_path / "p.png"))
    assert status in (0, 1), err
    # one colour bar (f): the plot Axes and one colour-bar Axes
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    fig.canvas.draw()
    title = ax.title
    assert title.get_window_extent().width <= fig.get_figwidth() * fig.dpi
    assert "newton" in title.get_text() and "lbfgs" in title.get_text()
    paths = [ln for ln in ax.lines if str(ln.get_gid()).startswith("path:")]
    assert [p.get_gid() for p in paths] == ["path:newton", "path:lbfgs", "path:adam"]
    assert len({p.get_marker() for p in paths}) == 3
    assert len({p.get_linestyle() for p in paths}) == 3
    widths = [p.get_linewidth() for p in paths]
    assert widths[0] > widths[1] >= widths[2], "the first path is drawn widest, underneath"
    ends = [ln for ln in ax.lines if str(ln.get_gid()).startswith("end:")]
    assert len({e.get_markersize() for e in ends}) == 3, "ends at one point show as nested stars"


# -- item 11: a picture for any number of variables ---------------------------------------------

def test_one_variable_draws_f_with_the_iterates_and_their_tangents(drawn, tmp_path):
    status, out, err, fig = drawn("x^2", "--start", "x=1", "--method", "gd", "--lr", "0.95", "--max-iter", "8",
                                  "--plot", str(tmp_path / "p.png"))
    assert status == 1          # max_iter: not converged, but the picture is written
    assert "f(x) with the iterates and tangent lines of gd" in out
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG
    ax = fig.axes[0]
    by = {ln.get_gid(): ln for ln in ax.lines}
    xs, fs = by["iterates:gd"].get_data()
    np.testing.assert_allclose(xs, (-0.9) ** np.arange(9))
    np.testing.assert_allclose(fs, xs ** 2)
    # overshoot: every step lands on the other side of the minimum
    assert np.all(np.sign(xs[1:]) != np.sign(xs[:-1]))
    for k in range(8):
        tx, ty = by[f"tangent:gd:{k}"].get_data()
        slope = (ty[1] - ty[0]) / (tx[1] - tx[0])
        assert slope == pytest.approx(2 * xs[k])                # the tangent's slope is f'(x_k)
        assert sorted(tx) == pytest.approx(sorted([xs[k], xs[k + 1]]))   # followed to the next iterate
    # the tangents' ends are in the picture
    lo, hi = ax.get_ylim()
    assert lo < 1 + 2 * (-1.9) + 0.1 and hi > 1


def test_three_variables_draw_the_convergence_plot(drawn, tmp_path):
    status, out, err, fig = drawn("x^2 + y^2 + z^2 + x*y", "--start", "x=1,y=2,z=3", "--method", "gd", "--lr", "0.1",
                                  "--compare", "lbfgs,newton", "--plot", str(tmp_path / "p.png"))
    assert status == 0, err
    assert "f and |grad| per iteration of gd, lbfgs, newton" in out
    grad_ax, f_ax = fig.axes
    assert grad_ax.get_yscale() == "log" and "|∇f|" in grad_ax.get_ylabel()
    assert {ln.get_gid() for ln in grad_ax.lines} >= {"run:gd", "run:lbfgs", "run:newton"}
    assert {ln.get_gid() for ln in f_ax.lines} == {"f:gd", "f:lbfgs", "f:newton"}


def test_plot_through_the_real_command(tmp_path):
    pytest.importorskip("matplotlib")
    for formula, start in [("x^2 - 2*x", "x=3"), ("x^2 + y^2 - 10", "x=1,y=2"), ("a^2 + b^2 + c^2 + d^2",
                                                                                  "a=1,b=1,c=1,d=1")]:
        png = tmp_path / f"{len(start)}.png"
        rc, out, err = cli(formula, "--start", start, "--plot", str(png))
        assert rc == 0 and "Traceback" not in err, err
        assert png.read_bytes()[:8] == PNG and png.stat().st_size > 10_000


@pytest.mark.parametrize("args,words", [
    (("x^2 + y^2", "--start", "x=1,y=1", "--compare", "gd,bfgs"), "unknown method 'bfgs'"),
    (("x^2 + y^2", "--start", "x=1,y=1", "--log"), "--log"),
    (("x^2 + y^2", "--start", "x=1,y=1", "--every", "0"), "--every"),
    (("x^2 + y^2", "--start", "x=1,y=1", "--plot", "no/such/folder/p.png"), "--plot"),
    (("x^2 + y^2", "--start", "x=1", "--plot", "p.png"), "no value for y"),
])
def test_no_table_header_before_an_error(args, words):
    rc, out, err = cli(*args)
    assert rc == 2 and words in err and "Traceback" not in err, err
    assert out == "", "the table header was printed before the error"


# -- item 12: the table, --compare, one tolerance, honest "converged" ---------------------------

def test_table_shows_the_parameter_values():
    rc, out, err = cli("x^2 + 3*y^2", "--start", "x=1,y=1", "--method", "gd", "--lr", "0.1")
    assert rc == 0, err
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["iter"])
    assert lines[header].split() == ["iter", "f", "|grad|", "step", "x", "y"]
    rows = [line.split() for line in lines[header + 1:] if line.strip() and line.split()[0].isdigit()]
    # each row is one gradient step from the one before: theta := theta - lr * grad
    for prev, row in zip(rows, rows[1:]):
        x, y = float(prev[4]), float(prev[5])
        assert float(row[4]) == pytest.approx(x - 0.1 * 2 * x, rel=1e-6, abs=1e-12)
        assert float(row[5]) == pytest.approx(y - 0.1 * 6 * y, rel=1e-6, abs=1e-12)
    # values agree with the JSON history
    rc, out, _ = cli("x^2 + 3*y^2", "--start", "x=1,y=1", "--method", "gd", "--lr", "0.1", "--json")
    doc = json.loads(out)
    assert len(doc["history"]) == len(rows)
    assert float(rows[3][4]) == pytest.approx(doc["history"][3]["x"]["x"], rel=1e-6)


def test_table_with_many_variables_shows_the_first_six():
    names = [f"w{i}" for i in range(9)]
    formula = " + ".join(f"{n}^2" for n in names)
    rc, out, err = cli(formula, "--start", ",".join(f"{n}=1" for n in names), "--max-iter", "3")
    assert "the first 6 of the 9 variables" in out
    header = next(line for line in out.splitlines() if line.split()[:1] == ["iter"])
    assert header.split()[4:10] == names[:6] and "w6" not in header


def test_compare_prints_a_comparison_table():
    rc, out, err = cli("(1-x)^2 + 100*(y-x^2)^2", "--start", "x=-1.2,y=1", "--method", "newton",
                       "--compare", "lbfgs,gd")
    assert rc == 0, err          # the status is --method's
    lines = out.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("comparison"))
    assert lines[i + 1].split() == ["method", "iterations", "f", "|grad|", "converged"]
    table = {line.split()[0]: line.split() for line in lines[i + 2:i + 5]}
    assert list(table) == ["newton", "lbfgs", "gd"]
    assert table["newton"][4] == "yes" and table["lbfgs"][4] == "yes" and table["gd"][4] == "no"
    assert int(table["newton"][1]) == 25
    assert any(line.startswith("(1) gd: ") and "lower the learning rate" in line for line in lines)
    rc, out, _ = cli("(1-x)^2 + 100*(y-x^2)^2", "--start", "x=-1.2,y=1", "--method", "newton",
                     "--compare", "lbfgs,gd", "--json")
    doc = json.loads(out)
    assert [c["method"] for c in doc["compare"]] == ["newton", "lbfgs", "gd"]
    assert [c["converged"] for c in doc["compare"]] == [True, True, False]
    assert doc["compare"][1]["nit"] == int(table["lbfgs"][1])


def test_cli_and_api_share_one_default_tolerance():
    import inspect
    assert inspect.signature(optim.minimize).parameters["tol"].default == solvers.DEFAULT_TOL
    rc, out, _ = cli("x^2", "--start", "x=1", "--json")
    assert json.loads(out)["tol"] == solvers.DEFAULT_TOL
    r = subprocess.run([sys.executable, "-m", "partiald", "minimize", "--help"], capture_output=True, text=True)
    assert f"default: {solvers.DEFAULT_TOL:g}" in " ".join(r.stdout.split())
    # the same run through both gives the same answer
    api = optim.minimize(lambda p: p[0] ** 2 + 3 * p[1] ** 2, np.array([1.0, 1.0]), method="gd", lr=0.1)
    rc, out, _ = cli("x^2 + 3*y^2", "--start", "x=1,y=1", "--method", "gd", "--lr", "0.1", "--json")
    assert json.loads(out)["nit"] == api.nit


def test_newton_on_x_cubed_is_not_converged():
    rc, out, err = cli("x^3", "--start", "x=1", "--method", "newton")
    assert rc == 1, err
    assert "stopped at a stationary point where the Hessian is not positive definite" in out
    assert "\nconverged" not in out
    rc, out, _ = cli("x^3", "--start", "x=1", "--method", "newton", "--json")
    doc = json.loads(out)
    assert doc["converged"] is False and "not positive definite" in doc["message"]


@pytest.mark.parametrize("method", optim.METHODS)
def test_api_does_not_claim_convergence_at_a_saddle_or_an_inflection(method):
    saddle = optim.minimize(lambda p: p[0] ** 2 - p[1] ** 2, np.array([1.0, 0.0]), method=method, max_iter=5000)
    assert not saddle.converged
    cubic = optim.minimize(lambda p: p[0] ** 3, np.array([1.0]), method=method, max_iter=3000)
    assert not cubic.converged
    if "stationary point" in cubic.message:
        assert "not positive definite" in cubic.message


@pytest.mark.parametrize("method", ["gd", "newton", "newton-cg", "lbfgs"])
def test_real_minima_still_converge(method):
    lr = 0.05 if method == "gd" else None
    res = optim.minimize(lambda p: (p[0] - 1) ** 2 + 2 * p[1] ** 2 + 0.1 * p[0] ** 4 + pnp.sin(p[1]) ** 2,
                         np.array([2.0, 1.0]), method=method, lr=lr, max_iter=5000)
    assert res.converged, res.message
    off = optim.minimize(lambda p: p[0] ** 3, np.array([1.0]), method="newton", check_minimum=False)
    assert off.converged          # the check can be turned off: the gradient test alone
