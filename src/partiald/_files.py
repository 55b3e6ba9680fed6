"""Output files of the command line: checked before any work, written atomically.

Every command that writes a file (``partiald plot -o``, ``minimize --plot``,
``train --plot``) checks its path with ``check_output`` before it reads data or
computes anything, and writes it with ``save_figure`` (or ``write_bytes`` /
``write_text``):

- a folder is refused: an existing one, or a name ending in ``/``;
- the folder the file goes in must exist, and be writable;
- an existing file that is read-only is refused (it is not replaced behind its
  owner's back);
- an output that is one of the command's input files (the same file, through a
  link or another spelling of its path) is refused;
- a figure's file type follows its extension, one that matplotlib writes (.png,
  .svg, .pdf, ...); a name without one is refused (matplotlib would add .png);
- an existing file is replaced, and the command says so ("replacing the
  previous file");
- the bytes go to a temporary file in the same folder (``.NAME.PID.RANDOM.tmp``),
  flushed to disk, then moved into place with ``os.replace``: an interrupt, a full
  disk or an error never leaves a truncated file where a good one was, and the
  temporary file is removed on failure. A symbolic link is written through (its
  target is replaced); an existing special file (``/dev/null``, a pipe) is written
  in place.

Refusals raise ValueError with the option and the path (exit status 2).
"""
from __future__ import annotations

import contextlib
import os
import secrets
import stat

#: figure types when matplotlib is not importable (its list otherwise)
_FIGURE_TYPES = ("avif", "eps", "gif", "jpeg", "jpg", "pdf", "pgf", "png", "ps", "raw", "rgba", "svg", "svgz",
                 "tif", "tiff", "webp")


def figure_types():
    """The extensions (without dot, lower case) matplotlib writes figures to."""
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        return sorted(_FIGURE_TYPES)
    return sorted(FigureCanvasBase.get_supported_filetypes())


class Output:
    """A checked output path (``check_output``'s result).

    Attributes:
      path: the path as given (for messages).
      option: the option that named it (``-o``, ``--plot``).
      target: where the bytes go: ``path`` with symbolic links resolved.
      special: an existing file that is not a regular file (``/dev/null``, a pipe),
        written in place.
      file_type: the extension, lower case, without the dot.
    """

    def __init__(self, path, option, target, special, file_type):
        self.path, self.option, self.target, self.special, self.file_type = path, option, target, special, file_type

    def __fspath__(self):
        return self.path

    def __repr__(self):
        return f"Output({self.path!r}, {self.option!r})"


def _refuse(option, path, why):
    raise ValueError(f"{option} {path}: {why}")


def check_output(path, option, *, inputs=(), types=None):
    """Check an output path before any work; return an ``Output`` to write with.

    Args:
      path: the file to write (str or path-like).
      option: the option that named it, for messages (``"-o"``, ``"--plot"``).
      inputs: ``(option, path)`` pairs of the command's input files; the output may be
        none of them.
      types: allowed extensions (lower case, no dot); default: the figure types
        (``figure_types()``). An empty tuple allows any name.

    Raises:
      ValueError naming ``option`` and ``path`` and what to do instead.
    """
    path = os.fspath(path)
    if not path.strip():
        raise ValueError(f"{option} needs a file name")
    seps = tuple(s for s in (os.sep, os.altsep) if s)
    if path.endswith(seps) or os.path.isdir(path):
        example = os.path.join(path, "figure.png" if types is None else "output")
        _refuse(option, path, f"that is a folder; give a file name, e.g. {example}")
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        given = os.path.dirname(os.path.abspath(path))
        shown = given if not os.path.isdir(given) else folder
        _refuse(option, path, f"the folder {shown} does not exist")
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as e:
        _refuse(option, path, f"cannot write it ({e.strerror or e})")
    special = st is not None and not stat.S_ISREG(st.st_mode)
    if st is not None:
        for in_option, in_path in inputs:
            if in_path is None:
                continue
            try:
                same = os.path.samefile(target, os.fspath(in_path))
            except OSError:
                same = os.path.realpath(os.fspath(in_path)) == target
            if same:
                _refuse(option, path, f"that is the input file ({in_option} {os.fspath(in_path)}); writing it "
                                      "would destroy the input: choose another output name")
    ext = os.path.splitext(path)[1]
    file_type = ext[1:].lower()
    allowed = figure_types() if types is None else list(types)
    if allowed and file_type not in allowed:
        kinds = ", ".join("." + k for k in allowed)
        if not ext:
            _refuse(option, path, f"the name has no extension; the file type follows it, one of {kinds} "
                                  f"(e.g. {path}.{allowed[0] if 'png' not in allowed else 'png'})")
        _refuse(option, path, f"cannot write a {ext} file; the file type follows the extension, one of {kinds}")
    if not special:
        if not os.access(folder, os.W_OK | os.X_OK):
            _refuse(option, path, f"cannot write in the folder {folder} (permission denied)")
        if st is not None and not os.access(target, os.W_OK):
            _refuse(option, path, "the file exists and is read-only; it is left as it is (choose another name, "
                                  "or make it writable)")
    return Output(path, option, target, special, file_type)


def _as_output(dest, option):
    return dest if isinstance(dest, Output) else check_output(dest, option, types=())


@contextlib.contextmanager
def atomic_write(dest, option="output"):
    """Context manager: yields a temporary path in the target's folder to write; on
    success it is moved over the target (``os.replace``), on any failure (an
    exception, KeyboardInterrupt) removed, the old file untouched. The value of the
    ``with`` target gains ``.replaced`` (whether a file was replaced) afterwards.

    ``dest``: an ``Output`` from ``check_output`` (or a path, checked here with any
    extension allowed)."""
    out = _as_output(dest, option)
    result = _Written()
    if out.special:                 # /dev/null, a pipe: nothing to replace atomically
        result.path = out.target if os.path.exists(out.target) else out.path
        yield result
        return
    folder, base = os.path.split(out.target)
    fd, tmp = None, None
    for _ in range(100):
        tmp = os.path.join(folder, f".{base[:200]}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            # 0o666 less the umask, as an ordinary new file (mkstemp's would be 0o600)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    if fd is None:
        raise FileExistsError(f"cannot make a temporary file in {folder}")
    os.close(fd)
    try:
        try:
            mode = stat.S_IMODE(os.stat(out.target).st_mode)     # keep the replaced file's permissions
        except FileNotFoundError:
            mode = None
        if mode is not None:
            os.chmod(tmp, mode)
        result.path = tmp
        yield result
        _fsync(tmp)
        result.replaced = os.path.exists(out.target)
        os.replace(tmp, out.target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class _Written:
    path = None
    replaced = False


def _fsync(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_error(out, e):
    return ValueError(f"{out.option} {out.path}: cannot write it ({e.strerror or e})")


def save_figure(fig, dest, option="-o", **savefig_kwargs):
    """Save a matplotlib figure atomically; returns True when it replaced a file.
    OSError (a full disk, ...) becomes ValueError naming the option and path."""
    out = dest if isinstance(dest, Output) else check_output(dest, option)
    try:
        with atomic_write(out) as w:
            fig.savefig(w.path, format=out.file_type or None, **savefig_kwargs)
    except OSError as e:
        raise _write_error(out, e) from None
    return w.replaced


def write_bytes(dest, data, option="-o"):
    """Write ``data`` atomically; returns True when it replaced a file."""
    out = _as_output(dest, option)
    try:
        with atomic_write(out) as w, open(w.path, "wb") as fh:
            fh.write(data)
    except OSError as e:
        raise _write_error(out, e) from None
    return w.replaced


def write_text(dest, text, option="-o", encoding="utf-8"):
    """Write ``text`` atomically (JSON, a report); returns True when it replaced a file."""
    return write_bytes(dest, text.encode(encoding), option)


def replacing(replaced):
    """The words a command adds to its "wrote FILE" line when it replaced a file."""
    return ", replacing the previous file" if replaced else ""
