"""``debug_nans`` belongs to the context that turned it on (issue 14, item 10).

One thread (or asyncio task) inside ``with pdx.debug_nans():`` must not make
another thread's plain computations raise, nor suspend another context's checks.
"""
import asyncio
import threading

import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald.core import debug


def _here():
    """Whether this context checks (``debug.enabled``; the old global flag before it existed)."""
    return debug.enabled() if hasattr(debug, "enabled") else bool(debug.STATE[0])


@pytest.fixture(autouse=True)
def _no_debug_left_on():
    yield
    assert debug.STATE[0] is False and not _here()


def _in_thread(target):
    box = {}

    def run():
        try:
            box["value"] = target()
        except BaseException as e:      # noqa: BLE001 - handed to the test thread
            box["error"] = e
    t = threading.Thread(target=run)
    t.start()
    return t, box


def test_another_threads_jit_grad_is_not_checked():
    """The issue's case: while one thread is inside debug_nans, another thread's
    jit(grad(log)) at a negative number returns NaN (as without debug_nans) on
    every call instead of raising FloatingPointError."""
    inside, leave = threading.Event(), threading.Event()

    def debugger():
        with pdx.debug_nans():
            inside.set()
            leave.wait(30)
            # still checking here, after the other thread's calls
            with pytest.raises(FloatingPointError, match="'log'"), np.errstate(all="ignore"):
                pnp.log(-1.0)
        return True

    t, box = _in_thread(debugger)
    assert inside.wait(30)
    try:
        g = pdx.jit(pdx.grad(lambda x: pnp.log(x) * x))
        h = pdx.grad(lambda x: pnp.sum(pnp.log(x)))
        errors = 0
        with np.errstate(all="ignore"):
            for _ in range(200):
                try:
                    assert np.isnan(g(-1.0))
                    assert np.isnan(h(np.array([-1.0, 2.0]))[0])
                    assert np.isnan(pnp.log(-1.0))
                except FloatingPointError:
                    errors += 1
        assert errors == 0
        assert not _here() and debug.STATE[0]       # on elsewhere, off here
    finally:
        leave.set()
        t.join(30)
    assert box.get("value") is True, box.get("error")


def test_suspension_inside_a_derivative_rule_is_per_thread():
    """A thread evaluating a derivative rule (checks suspended there) does not
    suspend another thread's checks."""
    entered, release = threading.Event(), threading.Event()

    @pdx.custom_jvp
    def f(x):
        return pnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        entered.set()
        release.wait(30)
        return pnp.sin(x), pnp.cos(x) * t

    def in_rule():
        with pdx.debug_nans():
            return float(pdx.grad(f)(1.0))

    t, box = _in_thread(in_rule)
    assert entered.wait(30)
    try:
        with pdx.debug_nans(), np.errstate(all="ignore"):
            with pytest.raises(FloatingPointError, match="primitive 'log' produced NaN"):
                pnp.log(-1.0)
    finally:
        release.set()
        t.join(30)
    assert box.get("value") == pytest.approx(np.cos(1.0)), box.get("error")


def test_one_instance_entered_by_two_threads():
    dn = pdx.debug_nans()
    barrier = threading.Barrier(2)

    def worker():
        with dn:
            barrier.wait(30)
            with pytest.raises(FloatingPointError), np.errstate(all="ignore"):
                pdx.grad(lambda x: pnp.sqrt(x))(0.0)
            barrier.wait(30)
        return _here()

    threads = [_in_thread(worker) for _ in range(2)]
    for t, _ in threads:
        t.join(30)
    assert [box.get("value") for _, box in threads] == [False, False], [b.get("error") for _, b in threads]


def test_asyncio_tasks_are_independent():
    async def debugging(ready, done):
        with pdx.debug_nans():
            ready.set()
            await done.wait()
            with pytest.raises(FloatingPointError), np.errstate(all="ignore"):
                pnp.log(-1.0)
        return "checked"

    async def plain(ready, done):
        await ready.wait()
        with np.errstate(all="ignore"):
            v = float(pdx.grad(lambda x: pnp.log(x) * x)(-2.0))
            w = pnp.log(-1.0)
        done.set()
        return v, w

    async def main():
        ready, done = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(debugging(ready, done), plain(ready, done))

    first, (v, w) = asyncio.run(main())
    assert first == "checked" and np.isnan(v) and np.isnan(w)


def test_the_fast_flag_is_off_after_every_block_closes():
    with pdx.debug_nans():
        with pdx.debug_nans():
            assert _here() and debug.STATE[0]
        assert _here()
    assert not _here() and debug.STATE[0] is False

    @pdx.debug_nans()
    def g(x):
        return pnp.log(x)

    with pytest.raises(FloatingPointError), np.errstate(all="ignore"):
        g(-1.0)
    assert debug.STATE[0] is False
