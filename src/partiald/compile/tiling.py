"""Loop tiling for large elementwise work.

NumPy runs one operation at a time over whole arrays: a chain of ten elementwise
operations on a million-element array streams 80 MB through main memory ten
times. When a program's elementwise operations share a long leading axis, the
generator runs them instead over tiles of rows that fit in cache, one tile at a
time, and the gradient's ``scatter_add`` of shifted slices (``x[1:]``,
``x[:-1]``) accumulates into its buffer tile by tile.

The program is split in three: ``pre`` (everything the tiled region does not
depend on), the region (elementwise equations whose output has the leading
length ``L``; run per tile), and ``post`` (everything that depends on the
region). Region values read after the loop are written into full-size buffers.
Every element is computed by the same operations on the same values as
untiled, and each accumulated gradient element receives its terms in the
program's order, so results are bitwise those of the untiled code (up to the
sign of an exact zero).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..core.graph import Graph, Var, use_counts

#: rows per tile are chosen so that one tile of one array holds about this many elements
TILE_ELEMS = 1 << 14
#: arrays smaller than this (elements) are not tiled
TILE_MIN = 1 << 17

class forced:
    """Tile every elementwise chain, ``elems`` elements per tile: for tests, which
    use small arrays (``with tiling.forced(2): ...``)."""

    def __init__(self, elems=2):
        self.elems = elems

    def __enter__(self):
        global TILE_ELEMS, TILE_MIN
        self.saved = TILE_ELEMS, TILE_MIN
        TILE_ELEMS, TILE_MIN = self.elems, 1
        return self

    def __exit__(self, *exc):
        global TILE_ELEMS, TILE_MIN
        TILE_ELEMS, TILE_MIN = self.saved


@dataclass
class Region:
    length: int                          # L, the shared leading length
    rows: int                            # rows per tile
    eqns: list                           # the region's equations, in program order
    pre: list                            # equations before the loop
    post: list                           # equations after it (fused ones removed)
    inputs: list                         # outside values the region reads
    sliced: set                          # ... of which these have leading length L (sliced per tile)
    kept: list                           # region values read after the loop (full buffers)
    chain: list = field(default_factory=list)   # [(scatter eqn, offset)] accumulated in the loop
    root: Var | None = None              # the value of the accumulated chain (its last add)
    extent: int = 0                      # the chain buffer's leading length


def _fits(x, out_ndim, length):
    """How an operand of a region equation is read per tile: 'tile' (rows sliced),
    'whole' (broadcast along the rows), or None (not tileable)."""
    shape = x.aval.shape if isinstance(x, Var) else np.shape(x.val)
    if len(shape) < out_ndim or (shape and shape[0] == 1):
        return "whole"
    if len(shape) == out_ndim and shape[0] == length:
        return "tile"
    return None


def find_region(graph: Graph, tile_elems=None, tile_min=None, fused=False):
    """The tiled region of ``graph``, or None when there is nothing worth tiling.
    ``fused``: for a native loop (native.py), where values kept after the loop cost
    no extra pass, so any region of two or more equations is worth it, and all its
    values have one shape (the commonest)."""
    tile_elems = TILE_ELEMS if tile_elems is None else tile_elems
    tile_min = TILE_MIN if tile_min is None else tile_min
    eqns = graph.eqns
    count: dict = {}
    for e in eqns:
        shape = e.outvar.aval.shape
        if e.prim.elementwise and shape and math.prod(shape) >= tile_min:
            count[shape[0]] = count.get(shape[0], 0) + 1
    if not count:
        return None
    length = max(count, key=count.get)
    only = None
    if fused:
        shapes: dict = {}
        for e in eqns:
            shape = e.outvar.aval.shape
            if e.prim.elementwise and shape and shape[0] == length and math.prod(shape) >= tile_min:
                shapes[shape] = shapes.get(shape, 0) + 1
        only = max(shapes, key=lambda s: (shapes[s], math.prod(s)))
    region = set()
    for i, e in enumerate(eqns):
        shape = e.outvar.aval.shape
        if e.prim.elementwise and shape and shape[0] == length and only in (None, shape) \
                and all(_fits(x, len(shape), length) is not None if isinstance(x, Var)
                        else _fits(x, len(shape), length) == "whole" for x in e.inputs):
            region.add(i)
    producer = {e.outvar: i for i, e in enumerate(eqns)}
    # a region equation may not depend on the region through an outside equation
    while True:
        dep = set()            # outside equations that depend on the region
        bad = set()
        # an outside value is passed to the tile function once: as a tile of rows or
        # whole, not both (a (3,) value read by an op of shape (3,) and broadcast
        # along the rows of a (3, 3) one; found by the random-program campaign)
        modes: dict = {}
        for i in region:
            nd = len(eqns[i].outvar.aval.shape)
            for x in eqns[i].inputs:
                if isinstance(x, Var) and producer.get(x) not in region:
                    modes.setdefault(x, set()).add(_fits(x, nd, length))
        for i in region:
            nd = len(eqns[i].outvar.aval.shape)
            if any(isinstance(x, Var) and len(modes.get(x, ())) > 1 and _fits(x, nd, length) == "tile"
                   for x in eqns[i].inputs):
                bad.add(i)
        for i, e in enumerate(eqns):
            srcs = [producer.get(x) for x in e.inputs if isinstance(x, Var)]
            if i in region:
                if any(s is not None and s in dep for s in srcs):
                    bad.add(i)
                # a region value is a tile of rows: it cannot stand for a lower-rank
                # operand that NumPy broadcasts along the trailing axes
                nd = len(e.outvar.aval.shape)
                if any(producer.get(x) in region and len(x.aval.shape) != nd
                       for x in e.inputs if isinstance(x, Var)):
                    bad.add(i)
            elif any(s is not None and (s in region or s in dep) for s in srcs):
                dep.add(i)
        if not bad:
            break
        region -= bad
    if len(region) < 2:
        return None
    reg_eqns = [eqns[i] for i in sorted(region)]
    reg_vars = {e.outvar for e in reg_eqns}
    pre = [e for i, e in enumerate(eqns) if i not in region and i not in dep]
    post = [e for i, e in enumerate(eqns) if i in dep]
    inputs, sliced, seen = [], set(), set()
    for e in reg_eqns:
        for x in e.inputs:
            if isinstance(x, Var) and x not in reg_vars and x not in seen:
                seen.add(x)
                inputs.append(x)
                if _fits(x, len(e.outvar.aval.shape), length) == "tile":
                    sliced.add(x)
    rest = max(math.prod(e.outvar.aval.shape[1:]) for e in reg_eqns)
    r = Region(length, max(1, tile_elems // max(rest, 1)), reg_eqns, pre, post, inputs, sliced, [])
    _fuse_chain(r, graph, reg_vars)
    read_after = {x for e in r.post for x in e.inputs if isinstance(x, Var)}
    read_after |= {o for o in graph.outvars if isinstance(o, Var)}
    r.kept = [e.outvar for e in reg_eqns if e.outvar in read_after]
    # each region value read after the loop costs a copy into its buffer; each region
    # equation saves a pass over main memory: tile only where that pays
    if not fused and TILE_MIN > 1 and len(reg_eqns) < max(4, 3 * len(r.kept)):
        return None
    return r


def _scatter_offset(e, length):
    """The leading offset of a scatter_add of a region value along the rows only, or None."""
    if e.prim.name != "scatter_add" or len(e.inputs) != 1:
        return None
    spec, shape = e.params["spec"], e.params["shape"]
    k = e.inputs[0]
    if not isinstance(k, Var) or not spec or len(k.aval.shape) != len(shape) or k.aval.shape[1:] != tuple(shape[1:]):
        return None
    first, others = spec[0], spec[1:]
    if first[0] != "slice" or first[3] not in (None, 1):
        return None
    if any(o != ("slice", None, None, None) for o in others):
        return None
    lo, hi, _ = slice(first[1], first[2]).indices(shape[0])
    return lo if hi - lo == length else None


def _fuse_chain(r: Region, graph: Graph, reg_vars):
    """Find ``add(...add(scatter_add(k1), scatter_add(k2))..., scatter_add(kn))`` over
    region values, each step read once, and move it into the loop."""
    uses = use_counts(graph)
    leaves = {}
    for e in r.post:
        off = _scatter_offset(e, r.length)
        if off is not None and e.inputs[0] in reg_vars and uses.get(e.outvar) == 1:
            leaves[e.outvar] = (e, off)
    if not leaves:
        return
    # the longest left-deep chain of adds
    best = None
    chains = {v: [leaves[v]] for v in leaves}        # value -> its leaves in order
    adds = []
    for e in r.post:
        if e.prim.name != "add" or len(e.inputs) != 2 or e.inputs[0] is e.inputs[1]:
            continue
        a, b = e.inputs
        if a in chains and b in leaves and uses.get(a) == 1:
            acc, leaf = a, b
        elif b in chains and a in leaves and uses.get(b) == 1:
            acc, leaf = b, a
        else:
            continue
        if e.outvar.aval != acc.aval or acc.aval != leaf.aval:
            continue
        chains[e.outvar] = chains.pop(acc) + [leaves[leaf]]
        chains.pop(leaf, None)
        adds.append(e)
    for v, chain in chains.items():
        if best is None or len(chain) > len(chains[best]):
            best = v
    chain = chains[best]
    fused = {id(e) for e, _ in chain}
    # the adds that built this chain
    members = {best}
    for e in reversed(adds):
        if e.outvar in members:
            fused.add(id(e))
            members.update(x for x in e.inputs if isinstance(x, Var))
    r.chain, r.root, r.extent = chain, best, best.aval.shape[0]
    r.post = [e for e in r.post if id(e) not in fused]


def split(graph: Graph, r: Region):
    """The three graphs: ``pre`` (its outputs: the values the loop and ``post`` read),
    the per-tile region graph, and ``post``."""
    defined_pre = {e.outvar for e in r.pre}
    needed = []
    for e in r.eqns + r.post:
        for x in e.inputs:
            if isinstance(x, Var) and x in defined_pre and x not in needed:
                needed.append(x)
    for o in graph.outvars:
        if isinstance(o, Var) and o in defined_pre and o not in needed:
            needed.append(o)
    pre = Graph(graph.invars, graph.constvars, graph.consts, r.pre, needed)
    outs = r.kept + [e.inputs[0] for e, _ in r.chain]
    tile = Graph(list(r.inputs), [], [], r.eqns, outs)
    loop_outs = r.kept + ([r.root] if r.root is not None else [])
    post = Graph(list(graph.invars) + needed + loop_outs, graph.constvars, graph.consts, r.post,
                 list(graph.outvars))
    return pre, tile, post, needed
