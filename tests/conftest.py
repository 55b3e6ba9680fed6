"""Shared test configuration: Hypothesis profiles and fixed seeds.

Profiles (select with HYPOTHESIS_PROFILE): ``ci`` (default, 100 examples,
deadline 1 s), ``dev`` (10 examples), ``nightly`` (thousands, no deadline).
"""
import atexit
import os
import shutil
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=100, deadline=1000, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow], database=None)
settings.register_profile("dev", max_examples=10, deadline=None, database=None)
settings.register_profile("nightly", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Native kernels (compile/native.py) compile into a fresh folder, removed at exit, not
# into the user's cache (set before collection: test modules probe the compiler).
_KERNELS = tempfile.mkdtemp(prefix="partiald-test-kernels-")
os.environ["PARTIALD_CACHE_DIR"] = _KERNELS
atexit.register(shutil.rmtree, _KERNELS, True)

# One BLAS thread: the suite's matrices are small, and on a 2-core machine two
# OpenBLAS pools (NumPy's and SciPy's) contending make them many times slower.
try:
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
except ImportError:      # threadpoolctl comes with scikit-learn (the data extra)
    pass


@pytest.fixture
def rng():
    return np.random.default_rng(0)
