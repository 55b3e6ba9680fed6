"""Every Python code block in README.md runs (a newcomer who copies them must succeed).

Plain blocks run in order in one namespace, as a reader pastes them into one session
(later blocks use names from earlier ones, e.g. ``loss``, ``rosen``, ``history``);
blocks written as an interactive session (``>>>``) run as doctests, so their printed
output is checked too.
"""
import doctest
import pathlib
import re
import warnings

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 8


def test_every_readme_python_block_runs(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    monkeypatch.chdir(tmp_path)             # a block that writes a file writes it here
    ns: dict = {"__name__": "readme"}
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # exp overflow in the custom_jvp example
        for i, block in enumerate(BLOCKS):
            if block.lstrip().startswith(">>>"):
                test = parser.get_doctest(block, ns, f"README block {i}", "README.md", 0)
                result = runner.run(test, clear_globs=False)
                assert result.failed == 0, f"README block {i} (a doctest) failed:\n{block}"
            else:
                try:
                    exec(compile(block, f"README.md block {i}", "exec"), ns)
                except Exception as e:      # name the block, then fail with its error
                    raise AssertionError(f"README block {i} raised {type(e).__name__}: {e}\n{block}") from e
            plt.close("all")
