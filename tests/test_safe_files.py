"""Bounded cost and safe files (issue 14, items 6-8).

- ``partiald plot`` draws at most 12 panels and refuses ranges it cannot draw
  (non-finite, overflowing, too narrow), naming the option and the value;
- every output path (``plot -o``, ``minimize --plot``, ``train --plot``) is checked
  before any work: no folder, no input file, an existing parent folder, a figure
  extension; an existing file is replaced and the command says so;
- files are written to a temporary file and moved into place: an interrupt midway
  leaves the old file intact and no temporary file behind.
"""
import io
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from partiald.cli import main

mpl = pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"


def cli(*args, cwd=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "partiald", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def in_process(*args):
    out, err = io.StringIO(), io.StringIO()
    return main([str(a) for a in args], out, err), out.getvalue(), err.getvalue()


def _refused(r, *needles):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("partiald: error: ") and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)


def _csv(path, n=40):
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    path.write_text("x,y\n" + "".join(f"{a:.6f},{2 * a + 1:.6f}\n" for a in x))
    return path


def _files_module():
    from partiald import _files
    return _files


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


# -- item 7: output paths are checked before any work ----------------------------------------------

def test_train_plot_never_overwrites_its_csv_input(tmp_path):
    """The issue's case: --csv data.png --plot data.png replaced the CSV with a PNG."""
    data = _csv(tmp_path / "data.png")
    before = data.read_bytes()
    r = cli("train", "--csv", data, "--target", "y", "--epochs", "1", "--plot", data)
    _refused(r, "--plot", "is the input file", "--csv")
    assert r.stdout == ""                                   # refused before loading or training
    assert data.read_bytes() == before
    assert _listing(tmp_path) == ["data.png"]


@pytest.mark.parametrize("spelling", ["dotdot", "symlink", "hardlink"])
def test_train_plot_recognizes_its_input_under_another_name(tmp_path, spelling):
    data = _csv(tmp_path / "data.png")
    before = data.read_bytes()
    (tmp_path / "sub").mkdir()
    if spelling == "dotdot":
        plot = tmp_path / "sub" / ".." / "data.png"
    elif spelling == "symlink":
        plot = tmp_path / "link.png"
        plot.symlink_to(data)
    else:
        plot = tmp_path / "hard.png"
        os.link(data, plot)
    r = cli("train", "--csv", data, "--target", "y", "--epochs", "1", "--plot", plot)
    _refused(r, "is the input file")
    assert data.read_bytes() == before and plot.read_bytes() == before


@pytest.mark.parametrize("command", ["train", "minimize", "plot"])
@pytest.mark.parametrize("case", ["folder", "folder-slash", "no-extension", "bad-extension", "missing-parent"])
def test_every_command_checks_its_output_before_any_work(tmp_path, command, case):
    data = _csv(tmp_path / "data.csv")
    before = data.read_bytes()
    (tmp_path / "figs").mkdir()
    target, message = {
        "folder": ("figs", "that is a folder"),
        "folder-slash": ("figs" + os.sep, "that is a folder"),
        "no-extension": ("curve", "has no extension"),
        "bad-extension": ("curve.xyz", "cannot write a .xyz file"),
        "missing-parent": (os.path.join("no", "such", "c.png"), "does not exist"),
    }[case]
    option = "-o" if command == "plot" else "--plot"
    args = {"train": ["train", "--csv", data, "--target", "y", "--epochs", "1"],
            "minimize": ["minimize", "(1-x)^2 + 100*(y-x^2)^2", "--start", "x=-1.2,y=1", "--method", "newton"],
            "plot": ["plot", "x^2 + 3*x*y", "--at", "x=1,y=2"]}[command]
    r = cli(*args, option, target, cwd=tmp_path)
    _refused(r, f"{option} {target}", message)
    assert r.stdout == ""                   # no table, no training, no figure: refused first
    assert _listing(tmp_path) == ["data.csv", "figs"]
    assert _listing(tmp_path / "figs") == []
    assert data.read_bytes() == before


@pytest.mark.parametrize("command", ["train", "minimize", "plot"])
def test_an_existing_file_is_replaced_and_the_command_says_so(tmp_path, command):
    data = _csv(tmp_path / "data.csv")
    out = tmp_path / "figure.png"
    out.write_bytes(b"old contents")
    os.chmod(out, 0o640)
    option = "-o" if command == "plot" else "--plot"
    args = {"train": ["train", "--csv", data, "--target", "y", "--epochs", "1", "--hidden", "4", "--quiet"],
            "minimize": ["minimize", "x^2 + 3*y^2", "--start", "x=1,y=1", "--method", "newton"],
            "plot": ["plot", "x^2 + 3*x*y", "--at", "x=1,y=2", "--dpi", "30"]}[command]
    r = cli(*args, option, out)
    assert r.returncode == 0, r.stderr
    assert "replacing the previous file" in r.stdout
    assert out.read_bytes()[:8] == PNG
    assert os.stat(out).st_mode & 0o777 == 0o640            # the replaced file's permissions are kept
    assert _listing(tmp_path) == ["data.csv", "figure.png"]  # no temporary file left
    r = cli(*args, option, tmp_path / "new.png")
    assert r.returncode == 0 and "replacing" not in r.stdout


def test_minimize_json_keeps_stdout_one_json_object(tmp_path):
    import json
    out = tmp_path / "p.png"
    r = cli("minimize", "x^2 + 3*y^2", "--start", "x=1,y=1", "--method", "newton", "--json", "--plot", out)
    assert r.returncode == 0, r.stderr
    json.loads(r.stdout)
    assert f"wrote {out}" in r.stderr and out.read_bytes()[:8] == PNG


# -- item 8: atomic writes -------------------------------------------------------------------------

def _interrupt_svg_midway(monkeypatch, after=40):
    """matplotlib's SVG renderer raises KeyboardInterrupt at its ``after``-th path: the
    SVG file is open and partly written (as when the user presses Ctrl-C)."""
    from matplotlib.backends import backend_svg
    calls = [0]
    original = backend_svg.RendererSVG.draw_path

    def draw_path(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == after:
            self.writer.flush()
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)
    monkeypatch.setattr(backend_svg.RendererSVG, "draw_path", draw_path)
    return calls


def test_interrupt_inside_the_svg_writer_leaves_the_old_file(tmp_path, monkeypatch):
    out = tmp_path / "c.svg"
    rc, stdout, err = in_process("plot", "sin(x)*cos(y)", "--kind", "contour", "-o", out)
    assert rc == 0, err
    good = out.read_bytes()
    assert good.rstrip().endswith(b"</svg>")
    calls = _interrupt_svg_midway(monkeypatch)
    rc, stdout, err = in_process("plot", "x^2 + y^2", "--kind", "contour", "-o", out)
    assert calls[0] >= 40                       # it was interrupted while writing
    assert rc == 130 and "interrupted" in err
    assert out.read_bytes() == good             # the old file, intact
    assert _listing(tmp_path) == ["c.svg"]      # and no temporary file


def test_interrupt_while_saving_the_loss_curve_and_the_descent_plot(tmp_path, monkeypatch):
    data = _csv(tmp_path / "data.csv")
    curve, paths = tmp_path / "curve.svg", tmp_path / "paths.svg"
    curve.write_bytes(b"<svg>old curve</svg>")
    paths.write_bytes(b"<svg>old paths</svg>")
    _interrupt_svg_midway(monkeypatch, after=5)
    rc, _, err = in_process("train", "--csv", data, "--target", "y", "--epochs", "2", "--hidden", "4", "--quiet",
                            "--plot", curve)
    assert rc == 130, err
    _interrupt_svg_midway(monkeypatch, after=5)
    rc, _, err = in_process("minimize", "x^2 + 3*y^2", "--start", "x=1,y=1", "--method", "newton", "--plot", paths)
    assert rc == 130, err
    assert curve.read_bytes() == b"<svg>old curve</svg>" and paths.read_bytes() == b"<svg>old paths</svg>"
    assert _listing(tmp_path) == ["curve.svg", "data.csv", "paths.svg"]


def test_a_full_disk_midway_leaves_the_old_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure
    out = tmp_path / "f.png"
    out.write_bytes(b"good")
    fig = Figure()
    fig.add_subplot().plot([1, 2, 3])

    def savefig(path, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"half a PNG")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(fig, "savefig", savefig)
    with pytest.raises(ValueError, match="No space left on device"):
        _files_module().save_figure(fig, out, "-o")
    assert out.read_bytes() == b"good" and _listing(tmp_path) == ["f.png"]


def test_write_text_is_atomic_and_keeps_permissions(tmp_path, monkeypatch):
    out = tmp_path / "r.json"
    assert _files_module().write_text(out, '{"a": 1}\n', "--json-out") is False
    assert out.read_text() == '{"a": 1}\n'
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(out).st_mode & 0o777 == 0o666 & ~mask      # an ordinary new file, not mkstemp's 0600
    os.chmod(out, 0o600)
    assert _files_module().write_text(out, '{"a": 2}\n') is True
    assert out.read_text() == '{"a": 2}\n' and os.stat(out).st_mode & 0o777 == 0o600

    def replace(src, dst):
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        _files_module().write_text(out, "partial")
    assert out.read_text() == '{"a": 2}\n' and _listing(tmp_path) == ["r.json"]


def test_writing_through_a_symlink_replaces_its_target(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "f.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    out = _files_module().check_output(link, "-o", types=())
    assert _files_module().write_text(out, "new") is True
    assert link.is_symlink() and target.read_text() == "new"
    assert _listing(tmp_path / "real") == ["f.txt"]


# -- item 6: bounded plots -------------------------------------------------------------------------

def test_plot_of_300_variables_draws_12_panels_in_seconds(tmp_path):
    formula = " + ".join(f"x{i}^2" for i in range(300))
    out = tmp_path / "s.png"
    t0 = time.perf_counter()
    r = cli("plot", formula, "-o", out, "--dpi", "30")
    seconds = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    assert "drawing the first 12" in r.stderr and "--wrt" in r.stderr
    assert out.read_bytes()[:8] == PNG
    assert len(r.stdout) < 400                  # the "wrote" line does not print the whole formula
    assert seconds < 60, seconds               # was over 90 s for 300 panels


def test_plot_wrt_chooses_the_panels(tmp_path):
    formula = " + ".join(f"x{i}^2" for i in range(30))
    from partiald.plot import figures
    drawn = []
    original = figures.slices

    def spy(*args, **kwargs):
        fig = original(*args, **kwargs)
        drawn.append([ax.get_xlabel() for ax in fig.axes if ax.get_visible()])
        return fig
    import partiald.plot.figures as pf
    pf.slices = spy
    try:
        rc, out, err = in_process("plot", formula, "--wrt", "x7,x21", "--dpi", "20", "-o", tmp_path / "w.png")
        assert rc == 0 and err == "", err
        rc, out, err = in_process("plot", formula, "--dpi", "20", "-o", tmp_path / "d.png")
        assert rc == 0 and "drawing the first 12" in err
    finally:
        pf.slices = original
    assert drawn[0] == ["x7", "x21"] and len(drawn[1]) == 12
    rc, out, err = in_process("plot", formula, "--wrt", ",".join(f"x{i}" for i in range(13)), "-o",
                              tmp_path / "x.png")
    assert rc == 2 and "at most 12 panels" in err
    rc, out, err = in_process("plot", "x*y*z", "--kind", "contour", "--wrt", "x,z", "--at", "x=1,y=2,z=3",
                              "--dpi", "20", "-o", tmp_path / "c.png")
    assert rc == 0, err


@pytest.mark.parametrize("args, needles", [
    (["x^2 + y^2", "--kind", "contour", "--xlim", "-1e308", "1e308"], ["--xlim -1e308 1e308", "too far out"]),
    (["sin(x) + cos(y)", "--kind", "contour", "--xlim", "-1e308", "1e308"], ["--xlim -1e308 1e308"]),
    (["sin(x) + cos(y)", "--kind", "surface", "--ylim", "-1e308", "1e308"], ["--ylim -1e308 1e308"]),
    (["x*y", "--kind", "contour", "--xlim", "1e308", "1.7e308"], ["--xlim 1e308 1.7e308"]),
    (["x*y", "--kind", "contour", "--xlim", "-inf", "1"], ["--xlim", "finite"]),
    (["x*y", "--kind", "surface", "--ylim", "0", "nan"], ["--ylim", "finite"]),
    (["x*y", "--kind", "contour", "--xlim", "1e15", "1.0000000000000002e15"], ["--xlim", "too narrow"]),
    (["x*y", "--kind", "contour", "--xlim", "0", "1e-310"], ["--xlim 0 1e-310", "too narrow"]),
    (["x*y", "--kind", "contour", "--at", "x=1e300,y=0"], ["--xlim", "1e+300"]),
    (["x*y", "--span", "1e300"], ["--span", "1e+300"]),
    (["x*y", "--span", "-1"], ["--span", "-1"]),
    (["x*y", "--at", "x=1e300,y=0"], ["range of x", "--span"]),
])
def test_plot_refuses_ranges_it_cannot_draw(tmp_path, args, needles):
    r = cli("plot", *args, "-o", tmp_path / "r.png", timeout=60)
    _refused(r, *needles)
    assert "Warning" not in r.stderr and "arange" not in r.stderr
    assert _listing(tmp_path) == []


def test_plot_refuses_a_raster_image_too_large_to_write_in_seconds(tmp_path):
    formula = " + ".join(f"sin(x{i})" for i in range(12))
    rc, out, err = in_process("plot", formula, "--dpi", "1000", "-o", tmp_path / "big.png")
    assert rc == 2 and "--dpi 1000" in err and "megapixels" in err, err
    assert _listing(tmp_path) == []
    rc, out, err = in_process("plot", "x^2", "--dpi", "1000", "-o", tmp_path / "one.svg")    # vector: any dpi
    assert rc == 0, err


def test_library_ranges_are_checked_too():
    from partiald import plot
    with pytest.raises(ValueError, match="too far out"):
        plot.contour("x*y", xlim=(-1e308, 1e308))
    with pytest.raises(ValueError, match="low < high"):
        plot.surface("x*y", ylim=(2, 1))
    with pytest.raises(ValueError, match="range of x"):
        plot.slices("x*y", span=-1)
