"""Run HIPS/autograd's published tests against partiald.

    python -m bench.peers.autograd_suite PATH/TO/autograd/tests [--json out.json]

The tests run unchanged; ``autograd_shim/`` is put first on the import path,
so ``import autograd`` there is a thin renaming of partiald's API (see its
docstrings).  Tests of autograd's own machinery, which has no counterpart in
partiald (vspaces, boxes and tracers, its extension internals, profiling), are
counted as not applicable, with the reason; everything else is applicable,
and the figure is passed / applicable.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

SHIM = Path(__file__).resolve().parent / "autograd_shim"

# Whole files and single tests whose subject is autograd's internals.
NOT_APPLICABLE_FILES = {
    "test_vspaces.py": "autograd's VSpace classes",
    "test_performance.py": "profiling scripts, no assertions about derivatives",
    "profiling.py": "profiling scripts",
    "_test_complexity.py": "disabled in autograd itself",
    "test_ufunc_dispatch.py": "xarray DataArrays holding autograd boxes (xarray is not a partiald input type; "
                              "these skip where xarray is not installed)",
}
NOT_APPLICABLE_TESTS = {
    # name substring -> reason
    "test_const_graph": "autograd.misc.const_graph caches autograd's tape",
    "test_deprecated": "autograd's deprecation shims",
    "test_unimplemented_falseyness": "edits autograd's table of VJP rules",
    "test_wrapped_name_and_docs": "autograd's own docstrings and wrapper names",
    "test_make_diagonal": "np.make_diagonal is autograd's, not NumPy's",
    "test_diagonal": "builds its input with np.make_diagonal, autograd's, not NumPy's",
    "test_custom_where_dtypes": "expects Python scalars from where() on Python scalars; NumPy returns 0-d arrays",
    "test_convolve_generalization": "autograd's own convolve(axes=, dot_axes=), not SciPy's signature",
    "test_convolve_ignore": "autograd's own convolve(axes=, dot_axes=), not SciPy's signature",
    "test_rfftn_odd_not_implemented": "expects autograd's NotImplementedError for odd lengths; "
                                      "partiald differentiates them",
}


def run(tests: Path, timeout: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="autograd-suite-"))
    try:
        dst = work / "tests"
        shutil.copytree(tests, dst)
        report = work / "report.xml"
        env = dict(os.environ)
        paths = [str(SHIM), str(dst)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore",
               "--continue-on-collection-errors", "--junitxml", str(report), "-o", "junit_family=xunit1",
               str(dst)]
        subprocess.run(cmd, cwd=work, env=env, timeout=timeout, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return parse(report)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def parse(report: Path) -> dict:
    rows = []
    for case in ET.parse(report).getroot().iter("testcase"):
        file = (case.get("file") or case.get("classname", "").replace(".", "/") + ".py").split("/")[-1]
        name = case.get("name")
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = case.find(tag)
            if el is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = (el.get("message") or "").splitlines()[0][:200] if el.get("message") else ""
                break
        reason = NOT_APPLICABLE_FILES.get(file)
        if reason is None:
            reason = next((r for k, r in NOT_APPLICABLE_TESTS.items() if k in name), None)
        rows.append({"file": file, "test": name, "outcome": outcome, "message": message,
                     "not_applicable": reason})
    return {"tests": rows}


def summarize(result: dict) -> str:
    rows = result["tests"]
    app = [r for r in rows if not r["not_applicable"] and r["outcome"] != "skipped"]
    passed = sum(r["outcome"] == "passed" for r in app)
    lines = [f"autograd's tests through partiald: {passed} of {len(app)} applicable pass "
             f"({100 * passed / max(len(app), 1):.1f}%); {len(rows) - len(app)} not applicable or skipped"]
    by_file = Counter((r["file"], r["outcome"] == "passed") for r in app)
    for file in sorted({r["file"] for r in app}):
        lines.append(f"  {file:28s} {by_file[(file, True)]:4d} / {by_file[(file, True)] + by_file[(file, False)]}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tests", type=Path, help="autograd's tests/ folder (e.g. from a clone of HIPS/autograd)")
    p.add_argument("--json", type=Path, help="write every test's outcome here")
    p.add_argument("--timeout", type=int, default=1800)
    a = p.parse_args(argv)
    result = run(a.tests, a.timeout)
    print(summarize(result))
    if a.json:
        a.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
