"""Fused loops (compile/native.py): the disk cache's safety and the fallbacks.

(a) private folders, refused when they are not; a file is loaded only when its
content is the expected one; (b) a corrupt or truncated entry is deleted and rebuilt
once, never a crash; (c) locks per loop, none held across a fork; (d) a bounded,
least-recently-used cache that sizes and constants do not grow; (e) malformed
settings fall back with a warning. And without numba, jit runs NumPy code.
"""
import multiprocessing as mp
import os
import pickle
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald.compile import native

needs_numba = pytest.mark.skipif(not native.available(), reason=f"no fused loops: {native.error()}")


def _loss(x):
    return pnp.sum((x[1:] - 0.125 * x[:-1]) ** 2)


def _loss2(x):
    return pnp.sum(pnp.maximum(x[2:] * x[:-2], -0.5) ** 2)


def _loss3(x):
    return pnp.sum(pnp.abs(x[1:] + x[:-1]) * x[1:])


X = np.random.default_rng(5).uniform(-1, 1, 64)


def _jit(f, x=X):
    """(whether a fused loop ran, the result), checked against the eager gradient."""
    with native.forced():
        g = pdx.jit(pdx.grad(f))
        source = g.lower(x)[1]
        got = g(x)
    np.testing.assert_array_equal(got, pdx.grad(f)(x))
    return "# native:" in source


@pytest.fixture
def kernels(tmp_path, monkeypatch):
    """A fresh cache folder (``PARTIALD_CACHE_DIR``) and no loop loaded in memory: the
    folder where loops are kept."""
    monkeypatch.setenv("PARTIALD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(native, "_loaded", {})
    return tmp_path / "cache" / "kernels"


def _entries(d):
    """The loops kept in ``d``: {key: [file names]}."""
    out = {}
    for folder in (d, d / "__pycache__"):
        for p in folder.iterdir() if folder.exists() else ():
            if p.name.startswith("k") and p.is_file():
                out.setdefault(p.name[1:33], []).append(p.name)
    return out


def _only(d):
    (key, _), = _entries(d).items()
    return key


def _dispatcher():
    (fn,) = native._loaded.values()
    return fn


def _forget(monkeypatch):
    """A new process, as far as loaded loops go."""
    monkeypatch.setattr(native, "_loaded", {})


class _Marker:
    """A pickle that creates a folder when loaded: the proof that it was."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.mkdir, (self.path,)


# (a) private folders; only the expected content is ever loaded --------------------

@needs_numba
def test_folders_are_created_private_and_reused(kernels, monkeypatch):
    assert _jit(_loss)
    for p in (kernels.parent, kernels, kernels / "__pycache__"):
        assert p.stat().st_mode & 0o777 == 0o700, p
    for p in kernels.iterdir():
        if p.is_file():
            assert p.stat().st_mode & 0o777 == 0o600, p
    assert sum(s.cache_misses.total() for s in [_dispatcher().stats]) == 1
    _forget(monkeypatch)
    assert _jit(_loss)
    assert _dispatcher().stats.cache_hits.total() == 1          # loaded, not compiled


@needs_numba
def test_the_default_folder_is_private_too(tmp_path, monkeypatch):
    monkeypatch.delenv("PARTIALD_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(native, "_loaded", {})
    assert _jit(_loss)
    kernels = tmp_path / "xdg" / "partiald" / "kernels"
    assert len(_entries(kernels)) == 1
    assert (tmp_path / "xdg" / "partiald").stat().st_mode & 0o777 == 0o700


@needs_numba
@pytest.mark.parametrize("which", ["root", "kernels"])
def test_a_folder_others_can_write_to_is_refused(which, kernels, monkeypatch):
    folder = kernels.parent if which == "root" else kernels
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    with pytest.warns(RuntimeWarning, match="writable by group or others"):
        assert _jit(_loss)                                      # compiled in memory
    assert _entries(kernels) == {}
    _forget(monkeypatch)
    with native.forced():                                        # warned once
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            pdx.jit(pdx.grad(_loss))(X)


@needs_numba
@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_a_readable_key_is_refused(kernels, monkeypatch):
    """The key signing the manifests must be private: one others can read is refused."""
    assert _jit(_loss)
    (kernels / "secret").chmod(0o644)
    monkeypatch.setattr(native, "_state", {**native._state, "disk": {}})
    _forget(monkeypatch)
    with pytest.warns(RuntimeWarning, match="not a private file"):
        assert _jit(_loss)
    assert native._loaded and list(native._loaded.values())[0].stats.cache_path is None


@needs_numba
@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners")
def test_a_folder_of_another_user_is_refused(kernels, monkeypatch):
    kernels.mkdir(parents=True, mode=0o700)
    real = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: real + 4242)
    with pytest.warns(RuntimeWarning, match="belongs to another user"):
        assert _jit(_loss)
    assert _entries(kernels) == {}


@needs_numba
def test_a_planted_source_file_is_never_run(kernels, monkeypatch, tmp_path):
    assert _jit(_loss)
    key = _only(kernels)
    source = kernels / f"k{key}.py"
    expected = source.read_bytes()
    marker = tmp_path / "ran"
    source.write_text(f"import os\nos.mkdir({str(marker)!r})\n" + expected.decode())
    _forget(monkeypatch)
    assert _jit(_loss)
    assert not marker.exists()
    assert source.read_bytes() == expected
    import hashlib
    assert hashlib.sha256(expected).hexdigest()[:32] == key              # named by its content


@needs_numba
@pytest.mark.parametrize("manifest", ["kept", "deleted", "forged"])
def test_planted_numba_files_are_never_read(manifest, kernels, monkeypatch, tmp_path):
    """numba's index is a pickle: one put in the cache under the expected name is
    deleted unread unless the manifest, signed with the folder's key, lists it."""
    assert _jit(_loss)
    key = _only(kernels)
    (index,) = (kernels / "__pycache__").glob(f"k{key}.*.nbi")
    marker = tmp_path / "loaded"
    planted = pickle.dumps(_Marker(marker))
    index.write_bytes(planted)
    listing = kernels / f"k{key}.sum"
    if manifest == "deleted":
        listing.unlink()
    elif manifest == "forged":                 # the planted file's true hash, signed with another key
        import hashlib
        import hmac
        rows = []
        for p in sorted((kernels / "__pycache__").glob(f"k{key}.*")):
            rows.append(f"{hashlib.sha256(p.read_bytes()).hexdigest()} {p.name}\n")
        body = "".join(rows).encode()
        listing.write_bytes(hmac.new(b"x" * 32, body, hashlib.sha256).hexdigest().encode() + b"\n" + body)
    _forget(monkeypatch)
    assert _jit(_loss)
    assert not marker.exists()
    assert index.read_bytes() != planted
    assert _dispatcher().stats.cache_misses.total() == 1                   # rebuilt


# (b) corrupt or truncated entries -------------------------------------------------

@needs_numba
@pytest.mark.parametrize("part", ["nbc", "nbi", "py", "sum"])
def test_a_truncated_entry_is_deleted_and_rebuilt(part, kernels, monkeypatch):
    assert _jit(_loss)
    key = _only(kernels)
    (path,) = [p for p in [*kernels.glob(f"k{key}.*"), *(kernels / "__pycache__").glob(f"k{key}.*")]
               if p.name.endswith("." + part)]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _forget(monkeypatch)
    assert _jit(_loss)
    assert _dispatcher().stats.cache_misses.total() == 1
    _forget(monkeypatch)
    assert _jit(_loss)
    assert _dispatcher().stats.cache_hits.total() == 1                     # whole again


@needs_numba
def test_an_entry_numba_cannot_read_is_deleted_and_rebuilt_once(kernels, monkeypatch):
    """A corrupt data file with a valid manifest (as if damaged between hashing and
    writing): numba's load raises, the entry is deleted and compiled again."""
    assert _jit(_loss)
    key = _only(kernels)
    (data,) = (kernels / "__pycache__").glob(f"k{key}.*.nbc")
    data.write_bytes(b"\x80\x05not a pickle")
    native._write_manifest(str(kernels), key)
    assert native._manifest_ok(str(kernels), key)
    _forget(monkeypatch)
    assert _jit(_loss)
    assert _dispatcher().stats.cache_misses.total() == 1
    assert native._manifest_ok(str(kernels), key)


@needs_numba
def test_a_cache_failing_twice_compiles_in_memory(kernels, monkeypatch):
    calls = []

    def broken(*args):
        calls.append(1)
        raise OSError("disk on fire")
    monkeypatch.setattr(native, "_build_cached", broken)
    with pytest.warns(RuntimeWarning, match="failed twice"):
        assert _jit(_loss)
    assert len(calls) == 2
    _forget(monkeypatch)
    assert _jit(_loss2) and len(calls) == 2                    # the cache is off in this process


@needs_numba
def test_a_loop_numba_rejects_runs_numpy_code(kernels, monkeypatch):
    """A lowering bug (a typing error) warns and runs NumPy code; the cache stays on."""
    from partiald.core.primitive import REGISTRY
    monkeypatch.setitem(REGISTRY["sub"].lowerings, "fused", lambda a, p, d: f"no_such_function({a[0]}, {a[1]})")
    with pytest.warns(RuntimeWarning, match="numba could not compile a fused loop"):
        assert not _jit(_loss)
    monkeypatch.undo()
    monkeypatch.setenv("PARTIALD_CACHE_DIR", str(kernels.parent))
    monkeypatch.setattr(native, "_loaded", {})
    assert _jit(_loss) and len(_entries(kernels)) == 1


# (c) locks --------------------------------------------------------------------------

def _in_child(conn):
    try:
        conn.send((_jit(_loss), _jit(_loss3)))
    except BaseException as e:          # the parent reports it
        conn.send(repr(e))


@needs_numba
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("numba_lock", [False, True], ids=["partiald-locks", "numba-compiler-lock"])
def test_a_child_forked_while_another_thread_holds_locks_does_not_hang(numba_lock, kernels, monkeypatch):
    """Another thread holds partiald's locks (and numba's compiler lock, as while
    compiling) when the process forks: the child uses its loaded loop and, for a new
    one, compiles it (partiald's locks are fresh in the child) or runs NumPy code
    (numba's lock is held forever there)."""
    import numba.core.compiler_lock as cl
    assert _jit(_loss)                                  # loaded before the fork
    held, release = threading.Event(), threading.Event()

    def hold():
        locks = [native._lock, native._key_lock("0" * 32)] + ([cl.global_compiler_lock] if numba_lock else [])
        for lock in locks:
            lock.acquire()
        held.set()
        release.wait(120)
        for lock in reversed(locks):
            lock.release()
    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    try:
        ctx = mp.get_context("fork")
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_in_child, args=(child,))
        p.start()
        p.join(60)
        if p.is_alive():
            p.kill()
            pytest.fail("the forked child hung on a lock held by the parent's other thread")
    finally:
        release.set()
        t.join()
    assert p.exitcode == 0
    assert parent.recv() == (True, not numba_lock)


@needs_numba
def test_a_loop_being_compiled_does_not_block_others(kernels):
    """Locks are per loop: another loop's lock held (a long compile) blocks nothing here."""
    other = native._key_lock("f" * 32)
    other.acquire()
    try:
        done = []
        t = threading.Thread(target=lambda: done.append(_jit(_loss)))
        t.start()
        t.join(60)
        assert done == [True]
    finally:
        other.release()


# (d) a bounded cache ------------------------------------------------------------------

@needs_numba
def test_sizes_and_constants_make_no_new_files(kernels, monkeypatch):
    assert _jit(_loss)
    files = _entries(kernels)
    for n in (7, 40, 41, 1000, 4097):
        for c in (0.5, -3.0, 1e10):
            assert _jit(lambda x: pnp.sum((x[1:] - c * x[:-1]) ** 2), np.linspace(-1, 1, n))
    assert _entries(kernels) == files
    assert len(native._loaded) == 1


@needs_numba
def test_least_recently_used_loops_are_evicted(kernels, monkeypatch):
    monkeypatch.setattr(native, "MAX_ENTRIES", 2)
    assert _jit(_loss)
    a = set(_entries(kernels))
    time.sleep(0.05)
    assert _jit(_loss2)
    b = set(_entries(kernels)) - a
    time.sleep(0.05)
    _forget(monkeypatch)
    assert _jit(_loss)                                   # used again: most recent
    time.sleep(0.05)
    assert _jit(_loss3)
    kept = set(_entries(kernels))
    assert len(kept) == 2 and a <= kept and not b & kept


@needs_numba
def test_the_cache_keeps_at_most_max_bytes(kernels, monkeypatch):
    monkeypatch.setattr(native, "MAX_BYTES", 1)          # every entry is over: only the newest stays
    assert _jit(_loss)
    assert _jit(_loss2)
    assert len(_entries(kernels)) == 1


# (e) settings, and no numba --------------------------------------------------------------

def test_a_malformed_native_setting_falls_back_with_a_warning(monkeypatch):
    monkeypatch.setenv("PARTIALD_NATIVE", "banana")
    with pytest.warns(RuntimeWarning, match="PARTIALD_NATIVE='banana'"):
        assert not _jit(_loss)
    assert not native.available() and "banana" in native.error()


@needs_numba
@pytest.mark.parametrize("setting", ["file", "relative"])
def test_a_malformed_cache_setting_falls_back_with_a_warning(setting, tmp_path, monkeypatch):
    monkeypatch.setattr(native, "_loaded", {})
    path = tmp_path / "a-file"
    path.write_text("")
    value = str(path) if setting == "file" else f"relative-{os.getpid()}"
    monkeypatch.setenv("PARTIALD_CACHE_DIR", value)
    with pytest.warns(RuntimeWarning, match="not caching fused loops"):
        assert _jit(_loss)                              # compiled in memory
    assert path.read_text() == "" and not os.path.exists(value if setting == "relative" else path / "kernels")


@needs_numba
def test_numba_cache_dir_set_compiles_in_memory(kernels, monkeypatch, tmp_path):
    import numba
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "numba"))
    with pytest.warns(RuntimeWarning, match="NUMBA_CACHE_DIR"):
        assert _jit(_loss)
    assert not (tmp_path / "numba").exists() and _entries(kernels) == {}


def test_turned_off_by_environment(monkeypatch):
    monkeypatch.setenv("PARTIALD_NATIVE", "0")
    assert not native.available() and native.error() == "PARTIALD_NATIVE=0"
    assert not _jit(_loss)


def test_without_numba_jit_runs_numpy_code(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)          # import numba raises ImportError
    monkeypatch.setattr(native, "_state", {"error": None, "numba": None, "no_compile": None, "disk": {}, "secret": {}})
    monkeypatch.setattr(native, "_loaded", {})
    assert not native.available() and "numba" in native.error() and native.compiler() is None
    assert not _jit(_loss)
    assert not _jit(_loss2)


def test_small_programs_do_not_import_numba():
    code = ("import sys, numpy as np, partiald as pdx, partiald.numpy as pnp\n"
            "pdx.jit(pdx.grad(lambda x: pnp.sum((x[1:] - x[:-1]) ** 2)))(np.ones(100))\n"
            "print('numba' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
