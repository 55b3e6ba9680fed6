"""Static checks of the source tree: no evaluation of text, a layered import
graph without circles, primitive records written only where they are defined,
and a size budget (TESTING.md section 6, STYLE.md habits 4 and 11)."""
import ast
import io
import pathlib
import tokenize

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "partiald"
MODULES = sorted(SRC.rglob("*.py"))

FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_MODULES = {"importlib", "pickle", "marshal", "shelve"}
#: the places allowed to exec generated code (no user text), each compiling it first to
#: give it a file name of its own: the codegen behind Expr.compile()/jit, and the fused
#: loops, whose file name is their source file in the cache folder (numba's disk cache
#: needs one)
EXEC_ALLOWLIST = {("compile/codegen.py", "exec"), ("compile/codegen.py", "compile"),
                  ("compile/native.py", "exec"), ("compile/native.py", "compile")}
#: the one place allowed to load machine code: the optional fused loops, which numba
#: compiles from generated source (no user text)
NATIVE_MODULES = {"ctypes", "subprocess", "numba", "llvmlite"}
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


# Layers, lowest first: a module may import only from its own layer or lower ones. A
# subsystem's subcommand (optim/cli.py, nn/cli.py, plot/cli.py) sits in its subsystem's layer;
# what it shares with the command line is in _cliargs.py, and what it needs from a higher
# layer the command line hands down.
LAYERS = [
    ("core", "_files.py"),      # _files: output paths checked and written atomically (no partiald imports)
    ("ops",),
    ("transforms",),
    ("numpy", "scipy"),
    ("api.py", "check.py", "compile", "custom.py", "vectorize.py", "sparse.py", "coloring.py"),
    ("symbolic", "optim", "nn", "datasets.py", "_cliargs.py"),
    ("plot", "cli.py", "__main__.py", "__init__.py"),
]


def _layer(rel):
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


# -- import circles --------------------------------------------------------------------------------

def _module_name(path, root, package):
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def _import_graph(root=None, package="partiald"):
    """``{module: {imported module: line}}`` over the package's modules, counting every
    import statement (at module level and inside functions), with relative imports
    resolved; ``from pkg import name`` is an edge to ``pkg.name`` when that is a module,
    to ``pkg`` otherwise. Importing ``a.b`` also runs ``a/__init__``, which is not
    counted: a circle through a package's own imports shows up where it is written."""
    root = SRC if root is None else root
    paths = {_module_name(p, root, package): p for p in sorted(root.rglob("*.py"))}
    graph = {}
    for name, path in paths.items():
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = {}
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")
                    base = base[:len(base) - (node.level - 1)] + ([node.module] if node.module else [])
                    base = ".".join(base)
                else:
                    base = node.module or ""
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in paths:         # "import partiald.a.b.c": the deepest module
                    t = t.rpartition(".")[0]
                if t and t != name:
                    edges.setdefault(t, node.lineno)
        graph[name] = edges
    return graph


def _import_circles(graph):
    """One shortest circle per strongly connected group of modules, as
    ``a (line 3) -> b (line 10) -> a``, naming the group's other members."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []
    for start in sorted(graph):             # Tarjan, iteratively
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    group = set()
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        group.add(w)
                        if w == v:
                            break
                    if len(group) > 1:
                        groups.append(group)
    circles = []
    for group in groups:
        first = min(group)
        prev, frontier = {first: None}, [first]
        while frontier and first not in [w for v in frontier for w in graph[v]]:
            nxt = []
            for v in frontier:
                for w in sorted(graph[v]):
                    if w in group and w not in prev:
                        prev[w] = v
                        nxt.append(w)
            frontier = nxt
        last = next(v for v in frontier if first in graph[v])
        path = [last]
        while prev[path[-1]] is not None:
            path.append(prev[path[-1]])
        path.reverse()
        steps = [f"{v} (line {graph[v][w]})" for v, w in zip(path, path[1:] + [first])]
        others = sorted(group - set(path))
        circles.append(" -> ".join(steps + [first]) + (f" (and round {', '.join(others)})" if others else ""))
    return sorted(circles)


def test_no_import_circles():
    circles = _import_circles(_import_graph())
    assert circles == [], "modules that import each other (directly or round a circle):\n  " + "\n  ".join(circles)


def test_the_circle_finder_catches_circles(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .a import f\n")
    (pkg / "a.py").write_text("import os\n\ndef f():\n    from .sub import b\n    return b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from ..c import g\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    (pkg / "d.py").write_text("from . import c\nfrom .sub import b\n")       # reaches the circle, not in it
    graph = _import_graph(pkg, "pkg")
    assert graph["pkg.d"] == {"pkg.c": 1, "pkg.sub.b": 2}
    assert _import_circles(graph) == ["pkg.a (line 4) -> pkg.sub.b (line 1) -> pkg.c (line 1) -> pkg.a"]
    (pkg / "c.py").write_text("import os.path\n")
    assert _import_circles(_import_graph(pkg, "pkg")) == []


# -- primitive records are written only where they are defined -----------------------------------------

#: where records are defined and may be filled in
RECORD_HOMES = ("ops/", "core/primitive.py")
#: variable names that hold a primitive record
RECORD_NAMES = {"prim", "primitive", "record"}
#: methods that change a dict or list in place
MUTATORS = {"update", "setdefault", "pop", "popitem", "clear", "append", "extend", "insert", "remove"}


def _is_registry(node):
    return isinstance(node, ast.Name) and node.id == "REGISTRY" or \
        isinstance(node, ast.Attribute) and node.attr == "REGISTRY"


def _record_writes(path, rel=None):
    """Statements that write into a primitive record defined elsewhere: an attribute (or
    an item of an attribute) of ``x_p``, ``REGISTRY[...]``, ``REGISTRY.get(...)``, or a
    variable bound from the registry or named like a record, assigned, deleted, changed
    in place (``.update``...) or set with ``setattr``. A module may fill in the records it
    defines itself (``x_p = Primitive(...)`` at its top level)."""
    rel = _rel(path) if rel is None else rel
    tree = ast.parse(path.read_text(), filename=str(path))
    own = {t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
           for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)}
    from_registry = set(RECORD_NAMES)
    for node in ast.walk(tree):
        # names bound to records: x = REGISTRY[...] / REGISTRY.get(...); for x in REGISTRY.values()
        if isinstance(node, (ast.Assign, ast.For, ast.comprehension)):
            value = node.value if isinstance(node, ast.Assign) else node.iter
            if any(_is_registry(n) for n in ast.walk(value)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    names = [e for e in ast.walk(t) if isinstance(e, ast.Name)]
                    from_registry.update(n.id for n in names[-1:])   # (name, record) pairs: the record

    def is_record(node):
        if isinstance(node, ast.Name):
            return node.id in from_registry or (node.id.endswith("_p") and node.id not in own)
        if isinstance(node, ast.Attribute):
            return node.attr.endswith("_p")
        if isinstance(node, ast.Subscript):
            return _is_registry(node.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            return _is_registry(node.func.value)
        return False

    def into_record(target):
        """``record.attr`` or ``record.attr[...]`` (any depth of items)."""
        while isinstance(target, ast.Subscript):
            target = target.value
        return isinstance(target, ast.Attribute) and is_record(target.value)

    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = [e for t in node.targets for e in ast.walk(t) if isinstance(e, (ast.Attribute, ast.Subscript))]
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        elif isinstance(node, ast.Call):
            fn = node.func
            if isinstance(fn, ast.Name) and fn.id in ("setattr", "delattr") and node.args and is_record(node.args[0]):
                found.append(f"{rel}:{node.lineno}: {fn.id} on a primitive record")
            elif isinstance(fn, ast.Attribute) and fn.attr in MUTATORS and into_record(fn.value):
                found.append(f"{rel}:{node.lineno}: {ast.unparse(fn)}(...) changes a primitive record")
        for t in targets:
            if into_record(t):
                found.append(f"{rel}:{node.lineno}: assigns {ast.unparse(t)}")
                break
    return sorted(found, key=lambda f: int(f.split(":")[1]))


@pytest.mark.parametrize("path", [p for p in MODULES if not _rel(p).startswith(RECORD_HOMES)], ids=_rel)
def test_no_module_writes_into_primitive_records(path):
    found = _record_writes(path)
    assert found == [], ("a primitive record is the single source of truth for its operation: give it the "
                         "rule where it is defined (ops/), not from here:\n  " + "\n  ".join(found))


def test_the_record_checker_catches_offences(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from ..ops.elementwise import sin_p\n"
        "from ..core.primitive import REGISTRY, Primitive\n"
        "from ..ops import shape\n"
        "own_p = Primitive('own', None, None)\n"
        "own_p.batch = None                          # its own record: allowed\n"
        "sin_p.jvp = lambda *a: None\n"                                # 1
        "REGISTRY['cos'].batch = None\n"                              # 2
        "shape.reshape_p.lowerings['numpy'] = 'reshape'\n"            # 3
        "for _name, _rule in RULES.items():\n"
        "    REGISTRY[_name].sparsity = _rule\n"                      # 4
        "for p in REGISTRY.values():\n"
        "    p.extras['k'] = 1\n"                                     # 5
        "def f(prim, rule):\n"
        "    setattr(prim, 'batch', rule)\n"                          # 6
        "    prim.lowerings.update(python=rule)\n"                    # 7
        "    REGISTRY.get('exp').exact |= True\n"                     # 8
        "    x = sin_p.jvp                              # reading: allowed\n"
        "    table = {}\n"
        "    table['a'] = x\n")
    found = _record_writes(bad, "bad.py")
    assert [int(f.split(":")[1]) for f in found] == [6, 7, 8, 10, 12, 14, 15, 16], found


#: tokens that are not code: layout, comments, and the encoding marker
_NOT_CODE = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
             tokenize.ENCODING, tokenize.ENDMARKER}


def _code_lines(path, text=None):
    """Lines holding code: not blank, not only a comment, not part of a docstring (any
    statement that is a string literal alone, wherever its quotes open and close)."""
    text = path.read_text() if text is None else text
    rows = set()
    statement = []                          # the code tokens of the current logical line
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type not in _NOT_CODE:
            statement.append(tok)
        elif tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER) and statement:
            if not all(t.type == tokenize.STRING for t in statement):
                for t in statement:
                    rows.update(range(t.start[0], t.end[0] + 1))
            statement = []
    return len(rows)


def test_the_line_counter_skips_docstrings_and_comments():
    text = ('''"""A module docstring\nthat closes on a text line"""\nimport os  # a comment\n\n'''
            '''def f(x):\n    """Doc\n    more text"""\n    # only a comment\n    return (x +\n            1)\n'''
            '''S = """data, not a docstring:\n"""\n''')
    # code: import, def, return (two lines), S = (two lines)
    assert _code_lines(None, text) == 6


def test_size_budget():
    core = sum(_code_lines(p) for p in (SRC / "core").rglob("*.py"))
    assert core <= 2000, f"core/ has {core} code lines (budget 2,000): a design conversation, not a quiet bump"
    for p in (SRC / "ops").rglob("*.py"):
        assert _code_lines(p) <= 1000, f"{_rel(p)} has {_code_lines(p)} code lines (budget 1,000)"
