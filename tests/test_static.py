"""Static checks of the source tree: no evaluation of text, a layered import
graph, and a size budget (TESTING.md section 6, STYLE.md habits 4 and 11)."""
import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "partiald"
MODULES = sorted(SRC.rglob("*.py"))

FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_MODULES = {"importlib", "pickle", "marshal", "shelve"}
#: the one place allowed to exec generated code (the codegen behind Expr.compile()/jit),
#: which compiles it first to give it a file name of its own
EXEC_ALLOWLIST = {("compile/codegen.py", "exec"), ("compile/codegen.py", "compile")}
#: the one place allowed to run a program and load machine code: the optional native
#: backend, which compiles generated C (no user text) with the system's C compiler
NATIVE_MODULES = {"ctypes", "subprocess"}
NATIVE_ALLOWLIST = {"compile/native.py"}


def _rel(path):
    return path.relative_to(SRC).as_posix()


def _offences(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else None
            if name in FORBIDDEN_CALLS and isinstance(fn, ast.Name):
                if (_rel(path), name) not in EXEC_ALLOWLIST:
                    found.append(f"{_rel(path)}:{node.lineno}: call to {name}()")
            if name == "loads" and isinstance(fn, ast.Attribute) and getattr(fn.value, "id", "") == "pickle":
                found.append(f"{_rel(path)}:{node.lineno}: pickle.loads")
            if name in ("getattr", "setattr", "delattr") and isinstance(fn, ast.Name):
                if len(node.args) < 2 or not isinstance(node.args[1], ast.Constant):
                    found.append(f"{_rel(path)}:{node.lineno}: {name} with a non-constant attribute name")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for n in names:
                if n.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"{_rel(path)}:{node.lineno}: import of {n}")
                if n.split(".")[0] in NATIVE_MODULES and _rel(path) not in NATIVE_ALLOWLIST:
                    found.append(f"{_rel(path)}:{node.lineno}: import of {n} outside compile/native.py")
    return found


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_no_dynamic_evaluation(path):
    assert _offences(path) == []


def test_the_checker_catches_offences(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import pickle\nx = eval('1')\ny = getattr(object, name)\nexec('pass')\nimport ctypes\n")
    global SRC
    old, SRC = SRC, tmp_path
    try:
        assert len(_offences(bad)) == 5
    finally:
        SRC = old


# Layers, lowest first: a module may import only from its own layer or lower ones.
LAYERS = [
    ("core", "_files.py"),      # _files: output paths checked and written atomically (no partiald imports)
    ("ops",),
    ("transforms",),
    ("numpy",),
    ("api.py", "check.py", "compile", "custom.py", "vectorize.py", "sparse.py"),
    ("symbolic", "optim", "nn", "datasets.py"),
    ("plot", "cli.py", "__main__.py", "__init__.py"),
]


def _layer(rel):
    if rel.endswith("/cli.py"):          # a subsystem's subcommand belongs to the command line
        return len(LAYERS) - 1
    first = rel.split("/")[0]
    for i, names in enumerate(LAYERS):
        if first in names:
            return i
    raise AssertionError(f"{rel} is in no layer of tests/test_static.py: add it to LAYERS")


def _imported_partiald_modules(path):
    rel_parts = path.relative_to(SRC).parts
    pkg = list(rel_parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                target = base + (node.module.split(".") if node.module else [])
                if not target:   # "from .. import x": x is a subpackage/module of the root
                    target = [node.names[0].name]
                yield "/".join(target)
            elif node.module and node.module.startswith("partiald."):
                yield "/".join(node.module.split(".")[1:])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("partiald."):
                    yield "/".join(alias.name.split(".")[1:])


def _target_layer(target):
    first = target.split("/")[0]
    for cand in (first, first + ".py"):
        for i, names in enumerate(LAYERS):
            if cand in names:
                return i
    return None


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_imports_follow_the_layers(path):
    own = _layer(_rel(path))
    bad = []
    for target in _imported_partiald_modules(path):
        layer = _target_layer(target)
        if layer is not None and layer > own:
            bad.append(target)
    assert bad == [], f"{_rel(path)} (layer {own}) imports higher layers: {bad}"


def _code_lines(path):
    lines = 0
    in_doc = False
    for line in path.read_text().splitlines():
        s = line.strip()
        if s.startswith('"""') or s.startswith("'''"):
            if not (len(s) > 3 and s.endswith(s[:3])):
                in_doc = not in_doc
            continue
        if in_doc or not s or s.startswith("#"):
            continue
        lines += 1
    return lines


def test_size_budget():
    core = sum(_code_lines(p) for p in (SRC / "core").rglob("*.py"))
    assert core <= 2000, f"core/ has {core} code lines (budget 2,000): a design conversation, not a quiet bump"
    for p in (SRC / "ops").rglob("*.py"):
        assert _code_lines(p) <= 1000, f"{_rel(p)} has {_code_lines(p)} code lines (budget 1,000)"
