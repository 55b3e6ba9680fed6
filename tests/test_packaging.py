"""The install the README promises (issue 13, item 14): ``[all]`` is for users and pulls
in no test tools; ``[dev]`` adds them for the test command; the README's Quick start
(two commands) and ``.ci/run`` agree; the suite's third-party imports come from ``[dev]``."""
import ast
import pathlib
import re
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXTRAS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
TEST_TOOLS = {"pytest", "hypothesis", "sympy", "ruff"}
#: import name -> distribution name, for the suite's third-party imports
DISTRIBUTIONS = {"pytest": "pytest", "hypothesis": "hypothesis", "sympy": "sympy", "scipy": "scipy",
                 "matplotlib": "matplotlib", "sklearn": "scikit-learn", "numba": "numba", "numpy": "numpy"}


def _resolve(extra, seen=None):
    """Distribution names an extra installs, following ``partiald[...]`` references."""
    seen = set() if seen is None else seen
    out = set()
    for req in EXTRAS[extra]:
        m = re.fullmatch(r"partiald\[([^\]]+)\]", req.replace(" ", ""))
        if m:
            for sub in m.group(1).split(","):
                if sub not in seen:
                    seen.add(sub)
                    out |= _resolve(sub, seen)
        else:
            out.add(re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].lower())
    return out


def test_all_is_for_users_and_dev_adds_the_test_tools():
    users = _resolve("all")
    assert not users & TEST_TOOLS, f"[all] installs test tools: {sorted(users & TEST_TOOLS)}"
    assert {"matplotlib", "scikit-learn", "scipy", "numba"} <= users     # plot, data, sparse, fast
    dev = _resolve("dev")
    assert users <= dev and TEST_TOOLS <= dev


def test_the_suites_imports_come_from_the_dev_extra():
    dev = _resolve("dev") | {"numpy"}
    imported = set()
    for path in (ROOT / "tests").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    needed = {DISTRIBUTIONS[name] for name in imported if name in DISTRIBUTIONS}
    assert {"sympy", "scipy", "hypothesis", "pytest"} <= needed
    assert needed <= dev, f"the tests import {sorted(needed - dev)}, which [dev] does not install"


def _quick_start():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_quick_start_is_two_commands_install_and_test():
    install, test = _quick_start()
    assert install.startswith('pip install -e ".[all]" && partiald ')
    assert test == 'pip install -e ".[dev]" && python -m pytest -q'


def test_ci_runs_the_quick_start_steps_in_order():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install, test = _quick_start()
    dev_install, pytest_command = test.split(" && ")
    positions = [ci.index(install), ci.index(dev_install), ci.index(pytest_command)]
    assert positions == sorted(positions)
    assert "ruff check src tests" in ci
