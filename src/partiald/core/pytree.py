"""Pytrees: nested tuples, lists and dicts (and None) of array leaves.

Dicts flatten in sorted-key order, like JAX. ``None`` is an empty subtree.
"""
from __future__ import annotations

from typing import Any, NamedTuple


class TreeDef(NamedTuple):
    kind: str            # "leaf", "none", "tuple", "list", "dict", or "namedtuple"
    meta: Any            # dict keys or namedtuple class
    children: tuple      # child TreeDefs

    @property
    def num_leaves(self) -> int:
        if self.kind == "leaf":
            return 1
        return sum(c.num_leaves for c in self.children)

    def __repr__(self):
        return f"PyTreeDef({_tree_repr(self)})"


LEAF = TreeDef("leaf", None, ())
_NONE = TreeDef("none", None, ())


def _tree_repr(t: TreeDef) -> str:
    if t.kind == "leaf":
        return "*"
    if t.kind == "none":
        return "None"
    inner = [_tree_repr(c) for c in t.children]
    if t.kind == "tuple":
        return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"
    if t.kind == "list":
        return "[" + ", ".join(inner) + "]"
    if t.kind == "dict":
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(t.meta, inner)) + "}"
    return f"{t.meta.__name__}(" + ", ".join(inner) + ")"


_CONTAINERS = (tuple, list, dict)
_FLAT_TUPLES: dict = {}      # n -> the TreeDef of a tuple of n leaves


def _flat_tuple(n):
    t = _FLAT_TUPLES.get(n)
    if t is None:
        t = _FLAT_TUPLES[n] = TreeDef("tuple", None, (LEAF,) * n)
    return t


def tree_flatten(tree) -> tuple[list, TreeDef]:
    """Return the leaves of ``tree`` (left to right) and its structure."""
    # fast paths: a leaf, and a plain tuple of leaves (the arguments of most calls)
    if tree is not None and not isinstance(tree, _CONTAINERS):
        return [tree], LEAF
    if type(tree) is tuple:
        for x in tree:
            if x is None or isinstance(x, _CONTAINERS):
                break
        else:
            return list(tree), _flat_tuple(len(tree))
    leaves: list = []
    # Iterative, so deep trees do not hit the recursion limit.
    def build(node):
        stack = [(node, None)]
        results: list = []
        while stack:
            item, state = stack.pop()
            if state is None:
                if item is None:
                    results.append(_NONE)
                elif isinstance(item, tuple) and hasattr(item, "_fields"):
                    stack.append(((type(item), len(item)), "namedtuple"))
                    stack.extend((c, None) for c in reversed(item))
                elif isinstance(item, (tuple, list)):
                    stack.append(((type(item) is list, len(item)), "seq"))
                    stack.extend((c, None) for c in reversed(item))
                elif isinstance(item, dict):
                    try:
                        keys = tuple(sorted(item))
                    except TypeError:
                        raise TypeError("pytree dict keys must be sortable (e.g. all strings)") from None
                    stack.append(((keys, len(keys)), "dict"))
                    stack.extend((item[k], None) for k in reversed(keys))
                else:
                    leaves.append(item)
                    results.append(LEAF)
            else:
                meta, n = item
                kids = tuple(results[len(results) - n:]) if n else ()
                del results[len(results) - n:]
                if state == "seq":
                    results.append(TreeDef("list" if meta else "tuple", None, kids))
                elif state == "dict":
                    results.append(TreeDef("dict", meta, kids))
                else:
                    results.append(TreeDef("namedtuple", meta, kids))
        return results[0]
    treedef = build(tree)
    return leaves, treedef


def tree_unflatten(treedef: TreeDef, leaves) -> Any:
    """Inverse of :func:`tree_flatten`."""
    if type(leaves) is list or type(leaves) is tuple:
        if treedef is LEAF and len(leaves) == 1:
            return leaves[0]
        if _FLAT_TUPLES.get(len(treedef.children)) is treedef and len(leaves) == len(treedef.children):
            return tuple(leaves)
    # a module-level helper, not a nested recursive closure: a closure that calls itself
    # is a reference cycle (function -> cell -> function) holding the leaves' iterator,
    # so every array passed through here would live until the cyclic garbage collector
    # ran (a training loop piled up gigabytes of old gradients and parameters that way)
    return _build(treedef, iter(leaves))


def _build(t, it):
    if t.kind == "leaf":
        return next(it)
    if t.kind == "none":
        return None
    kids = [_build(c, it) for c in t.children]
    if t.kind == "tuple":
        return tuple(kids)
    if t.kind == "list":
        return kids
    if t.kind == "dict":
        return dict(zip(t.meta, kids))
    return t.meta(*kids)


def tree_leaves(tree) -> list:
    return tree_flatten(tree)[0]


def tree_structure(tree) -> TreeDef:
    return tree_flatten(tree)[1]


def tree_map(f, tree, *rest):
    """Apply ``f`` leafwise to ``tree`` and trees of the same structure."""
    leaves, treedef = tree_flatten(tree)
    others = []
    for r in rest:
        rl, rt = tree_flatten(r)
        if rt != treedef:
            raise ValueError(f"tree_map: structures differ: {treedef} vs {rt}")
        others.append(rl)
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others)])
