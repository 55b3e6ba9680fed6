"""Sparsity detection on Graphs: Jacobian and Hessian patterns of a Graph.

Detection is index-set propagation without numeric probing. Every variable
``v`` of a Graph gets a dependency matrix ``D[v]``: a boolean
``scipy.sparse`` matrix with one row per element of ``v`` and one column per
input element; ``D[v][i, j]`` means "element i of v may depend on input j".
Each primitive's record names one rule (its ``sparsity`` field: the pairs of
an elementwise primitive, or a structural rule in :data:`KINDS`) that describes
its *local* structure: for every input, a :class:`Map` from the input's elements to the
output's elements (the structural nonzeros of d out / d in), and the pairs of
inputs with a nonzero second derivative. Then

* Jacobian pattern: ``D[out] = OR_k  P_k @ D[in_k]``, propagated forwards;
* Hessian pattern: at a nonlinear equation, every output element ``i`` that
  reaches the function's output ("live", found by one backward pass over the
  same maps) contributes the pairs ``(P_k D_k)[i] x (P_l D_l)[i]`` of each
  interacting input pair ``(k, l)``: ``mul(x, y)`` gives dep(x) x dep(y),
  a nonlinear ``f(u)`` gives dep(u) x dep(u), linear primitives nothing.
  All contributions are summed with one sparse product at the end.

The rules are conservative: a detected pattern is a superset of the
derivative's nonzeros for every input value (zeros of literal constants are
used; values computed from the inputs are not, except integer index arrays,
whose traced values decide which elements a gather reads). Primitives whose
derivative is zero by definition (comparisons, ``sign``, ``stop_gradient``)
block dependencies, exactly as the JVP rules do.

A Graph traced on shapes only (as ``partiald.sparse`` does once per input
signature) has no values for what is computed from its inputs. With
``strict=True`` a rule that would read such a value (a gather's index array
computed from the inputs, a mask passed as a non-differentiated input) raises
:class:`ValueNeeded` instead of answering conservatively, so the caller can
detect on a trace with values instead; ``wrt`` leaves the trailing inputs out
of the derivative (arguments held fixed).

The colorings that compress derivatives live in :mod:`partiald.coloring`.
"""
from __future__ import annotations

import numpy as np

from ..core.errors import SparsityRuleError
from ..core.graph import Eqn, Graph, Lit, Var
from ..core.trace import Builder
from ..ops.shape import _np_index

#: a dense local map (every output element depends on every input element) that would
#: put more than this many entries into one dependency matrix raises MemoryError
DENSE_LIMIT = 200_000_000


def scipy_sparse():
    """``scipy.sparse``, imported on first use (SciPy is the optional extra ``sparse``)."""
    try:
        import scipy.sparse as sp
    except ImportError:                       # pragma: no cover - depends on the environment
        raise ImportError('sparse derivatives need SciPy: pip install "partiald[sparse]"') from None
    return sp


def _bool_csr(rows, cols, shape):
    sp = scipy_sparse()
    m = sp.csr_matrix((np.ones(len(rows), dtype=bool), (np.asarray(rows, np.int64), np.asarray(cols, np.int64))),
                      shape=shape)
    m.sum_duplicates()
    return m


def _empty(shape):
    sp = scipy_sparse()
    return sp.csr_matrix(shape, dtype=bool)


def identity_pattern(n, offset=0, ncols=None):
    """Rows ``offset + i`` of the ``ncols``-column identity: the dependencies of an input."""
    sp = scipy_sparse()
    ncols = n if ncols is None else ncols
    return sp.csr_matrix((np.ones(n, dtype=bool), offset + np.arange(n), np.arange(n + 1)), shape=(n, ncols))


# -- local maps -------------------------------------------------------------------------

class Map:
    """The structural nonzeros of ``d out / d in`` for one input of one equation: an
    ``out_size x in_size`` boolean matrix, stored by kind.

    * ``"id"``: out element i depends on in element i;
    * ``"rows"``: out element i depends on in element ``idx[i]`` (gathers, broadcasting);
    * ``"mat"``: a general sparse matrix ``mat`` (reductions, placements, einsum);
    * ``"dense"``: every out element depends on every in element (det, solve).
    """

    __slots__ = ("kind", "out_size", "in_size", "idx", "mat")

    def __init__(self, kind, out_size, in_size, idx=None, mat=None):
        self.kind, self.out_size, self.in_size, self.idx, self.mat = kind, out_size, in_size, idx, mat

    def __repr__(self):
        return f"Map({self.kind}, {self.out_size}x{self.in_size})"

    @classmethod
    def identity(cls, n):
        return cls("id", n, n)

    @classmethod
    def dense(cls, out_size, in_size):
        return cls("dense", out_size, in_size)

    @classmethod
    def matrix(cls, mat):
        return cls("mat", mat.shape[0], mat.shape[1], mat=mat.tocsr())

    @classmethod
    def from_index(cls, idx, in_size):
        """Out element i reads in element ``idx[i]``; ``idx[i] < 0``: it reads none."""
        idx = np.asarray(idx, dtype=np.int64).ravel()
        n = idx.size
        if n and idx.min() < 0:
            rows = np.flatnonzero(idx >= 0)
            if rows.size == 0:
                return None
            return cls.matrix(_bool_csr(rows, idx[rows], (n, in_size)))
        if n == in_size and (n == 0 or (idx[0] == 0 and idx[-1] == n - 1 and np.array_equal(idx, np.arange(n)))):
            return cls.identity(n)
        return cls("rows", n, in_size, idx=idx)

    @classmethod
    def from_columns(cls, pos, out_size):
        """In element j feeds out element ``pos[j]`` (many to one: reductions, scatters)."""
        pos = np.asarray(pos, dtype=np.int64).ravel()
        return cls.matrix(_bool_csr(pos, np.arange(pos.size), (out_size, pos.size)))

    def apply(self, D):
        """The dependencies this input gives the output: ``P @ D`` (rows: out elements)."""
        kind = self.kind
        if kind == "id":
            return D
        if kind == "rows":
            idx = self.idx
            n = idx.size
            if n and idx[-1] - idx[0] == n - 1 and np.array_equal(idx, np.arange(idx[0], idx[0] + n)):
                return D[int(idx[0]):int(idx[0]) + n]          # a slice: no fancy indexing
            return D[idx]
        if kind == "mat":
            out = self.mat @ D
            return out.tocsr() if out.format != "csr" else out
        # dense: every row is the union of the input's rows
        u = np.unique(D.indices)
        if self.out_size * u.size > DENSE_LIMIT:
            raise MemoryError(f"sparsity detection: a dense dependency ({self.out_size} x {u.size}) exceeds "
                              f"{DENSE_LIMIT} entries")
        sp = scipy_sparse()
        k = u.size
        return sp.csr_matrix((np.ones(self.out_size * k, dtype=bool), np.tile(u, self.out_size),
                              np.arange(0, (self.out_size + 1) * k, k) if k else np.zeros(self.out_size + 1, np.int64)),
                             shape=(self.out_size, D.shape[1]))

    def pullback(self, live):
        """Which input elements reach a live (True) output element."""
        kind = self.kind
        if kind == "id":
            return live
        out = np.zeros(self.in_size, dtype=bool)
        if kind == "rows":
            out[self.idx[live]] = True
        elif kind == "mat":
            out[self.mat[np.flatnonzero(live)].indices] = True
        elif live.any():
            out[:] = True
        return out

    def restrict(self, rows):
        """The map onto the output elements ``rows`` only."""
        kind = self.kind
        if kind == "id":
            return Map.from_index(rows, self.in_size)
        if kind == "rows":
            return Map("rows", rows.size, self.in_size, idx=self.idx[rows])
        if kind == "mat":
            return Map.matrix(self.mat[rows])
        return Map.dense(rows.size, self.in_size)


class Local:
    """What a rule says about one equation: a :class:`Map` (or ``None``: no derivative
    flows) per input, and the input pairs ``(k, l)``, ``k <= l``, whose mixed second
    derivative may be nonzero. ``pair_fn(live_out)``, when given, replaces the
    default pairing and returns ``[(k, Q_k, l, Q_l)]`` with maps into a common
    "pair space" whose rows pair up (einsum pairs per contraction term)."""

    __slots__ = ("maps", "pairs", "pair_fn")

    def __init__(self, maps, pairs=(), pair_fn=None):
        self.maps, self.pairs, self.pair_fn = list(maps), tuple(pairs), pair_fn

    def pair_maps(self, live):
        if self.pair_fn is not None:
            return self.pair_fn(live)
        out = []
        rows = None if live.all() else np.flatnonzero(live)
        for k, l in self.pairs:
            mk, ml = self.maps[k], self.maps[l]
            if mk is None or ml is None:
                continue
            if mk.kind == "dense" and ml.kind == "dense":
                # every output row is the same union: one representative row pairs them
                one = np.zeros(1, np.int64)
                qk = mk.restrict(one)
                out.append((k, qk, l, qk if k == l else ml.restrict(one)))
            elif rows is None:
                out.append((k, mk, l, ml))
            else:
                qk = mk.restrict(rows)
                out.append((k, qk, l, qk if k == l else ml.restrict(rows)))
        return out


class ValueNeeded(Exception):
    """Raised by a strict analysis (``strict=True``) when a rule would read a value the
    trace did not record: a pattern from a shape-only trace would then be coarser than
    (or, for index arrays, differ from) the one from a trace with values."""


class RuleContext:
    """What a sparsity rule sees of one equation.

    ``strict``: the Graph comes from a shape-only trace, and a rule that asks for a
    value which a trace on concrete values would have known raises
    :class:`ValueNeeded` instead of falling back to a coarser rule. ``tainted``: the
    variables computed from some input of the Graph; ``wtainted``: those computed
    from a differentiated input (the others are constants for the derivative)."""

    __slots__ = ("eqn", "params", "dep", "strict", "_values", "_tainted", "_wtainted")

    def __init__(self, eqn, dep, values, tainted, wtainted=None, strict=False):
        self.eqn, self.params, self.dep, self.strict = eqn, eqn.params, dep, strict
        self._values, self._tainted = values, tainted
        self._wtainted = tainted if wtainted is None else wtainted

    @property
    def n_in(self):
        return len(self.eqn.inputs)

    def shape(self, k):
        return tuple(self.eqn.inputs[k].aval.shape)

    def size(self, k):
        return int(np.prod(self.shape(k), dtype=np.int64))

    @property
    def out_shape(self):
        return tuple(self.eqn.outvar.aval.shape)

    @property
    def out_size(self):
        return int(np.prod(self.out_shape, dtype=np.int64))

    def peek(self, k):
        """The concrete value of input k if the trace recorded one, else None."""
        x = self.eqn.inputs[k]
        v = x.val if isinstance(x, Lit) else self._values.get(x)
        if isinstance(v, (np.ndarray, np.generic, bool, int, float, complex)):
            return v
        return None

    def value(self, k):
        """The concrete value of input k, if the trace recorded one (strict: or raise)."""
        v = self.peek(k)
        if v is None and self.strict:
            raise ValueNeeded(f"{self.eqn.prim.name} reads the value of an input the trace left abstract")
        return v

    def const(self, k):
        """The value of input k if it is a constant: computed from no differentiated
        input of the Graph (strict: an input computed from the others raises)."""
        x = self.eqn.inputs[k]
        if isinstance(x, Var) and x in self._tainted:
            if self.strict and x not in self._wtainted:
                raise ValueNeeded(f"{self.eqn.prim.name} reads the value of a non-differentiated argument")
            return None
        return self.value(k)


# -- the rules ----------------------------------------------------------------------------

def _bcast_map(ctx, k, out_shape=None):
    """Map of NumPy broadcasting from input k to the output shape."""
    out_shape = ctx.out_shape if out_shape is None else tuple(out_shape)
    shape = ctx.shape(k)
    n = ctx.size(k)
    if shape == out_shape:
        return Map.identity(n)
    idx = np.broadcast_to(np.arange(n, dtype=np.int64).reshape(shape), out_shape)
    return Map.from_index(idx, n)


def _elementwise(pairs=()):
    def rule(ctx):
        return Local([_bcast_map(ctx, k) if ctx.dep[k] else None for k in range(ctx.n_in)], pairs)
    return rule


_LINEAR = _elementwise()
_UNARY = _elementwise(((0, 0),))
_PRODUCT = _elementwise(((0, 1),))
_QUOTIENT = _elementwise(((0, 1), (1, 1)))
_BINARY = _elementwise(((0, 0), (0, 1), (1, 1)))


def _zero_rule(ctx):
    # the derivative is zero by definition: no dependency flows through
    return Local([None] * ctx.n_in)


def _sign_rule(ctx):
    # sign is piecewise constant on reals, but sign(z) = z/|z| moves with a complex z
    if np.dtype(ctx.eqn.inputs[0].aval.dtype).kind == "c":
        return _UNARY(ctx)
    return _zero_rule(ctx)


def _integer_pow_rule(ctx):
    n = ctx.params["n"]
    if n == 0:
        return Local([None])
    return Local([Map.identity(ctx.size(0)) if ctx.dep[0] else None], () if n == 1 else ((0, 0),))


def _convert_rule(ctx):
    if np.dtype(ctx.params["dtype"]).kind not in "fc":
        return Local([None])
    return Local([Map.identity(ctx.size(0)) if ctx.dep[0] else None])


def _select_rule(ctx):
    c = ctx.const(0)
    maps = [None, None, None]
    for k in (1, 2):
        if not ctx.dep[k]:
            continue
        if c is None:
            maps[k] = _bcast_map(ctx, k)
        else:
            # a constant condition: each output element reads one branch only
            idx = np.broadcast_to(np.arange(ctx.size(k), dtype=np.int64).reshape(ctx.shape(k)), ctx.out_shape)
            take = np.broadcast_to(np.asarray(c, dtype=bool), ctx.out_shape)
            maps[k] = Map.from_index(np.where(take if k == 1 else ~take, idx, -1), ctx.size(k))
    return Local(maps)


#: pair spaces (einsum terms, pairs inside a product or a determinant) larger than this
#: fall back to the coarser "all pairs among the union" contribution
PAIR_LIMIT = 4_000_000


def _reduce(pairs):
    def rule(ctx):
        if not ctx.dep[0]:
            return Local([None])
        shape, axes = ctx.shape(0), tuple(ctx.params["axes"])
        keep = tuple(1 if i in axes else d for i, d in enumerate(shape))
        pos = np.broadcast_to(np.arange(ctx.out_size, dtype=np.int64).reshape(keep), shape)
        return Local([Map.from_columns(pos, ctx.out_size)], pairs)
    return rule


def _cumsum_rule(ctx):
    # out element i along the axis depends on the inputs 0..i along it (n..i when
    # reversed), exactly: a triangular pattern per line; linear, so no pairs
    if not ctx.dep[0]:
        return Local([None])
    shape, axis = ctx.shape(0), ctx.params["axis"]
    n = shape[axis] if shape else 1
    size = ctx.size(0)
    if size * n > DENSE_LIMIT:
        raise MemoryError(f"sparsity detection: a cumsum pattern ({size} x {n}) exceeds {DENSE_LIMIT} entries")
    lines = np.moveaxis(np.arange(size, dtype=np.int64).reshape(shape), axis, -1).reshape(-1, n) \
        if shape else np.zeros((1, 1), np.int64)
    i, j = np.triu_indices(n) if ctx.params.get("reverse") else np.tril_indices(n)
    return Local([Map.matrix(_bool_csr(np.ravel(lines[:, i]), np.ravel(lines[:, j]), (size, size)))])


def _reduce_prod_rule(ctx):
    local = _reduce(((0, 0),))(ctx)
    if not ctx.dep[0]:
        return local
    shape, axes = ctx.shape(0), tuple(ctx.params["axes"])
    k = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    if k <= 1:                         # a product of one factor is linear
        return Local(local.maps)
    if ctx.out_size * k * (k - 1) > PAIR_LIMIT:
        return local
    # multilinear: factors i != j of one group interact, no factor with itself
    keep_axes = [i for i in range(len(shape)) if i not in axes]
    members = np.arange(ctx.size(0), dtype=np.int64).reshape(shape).transpose(keep_axes + list(axes))
    members = members.reshape(ctx.out_size, k)
    i, j = np.nonzero(~np.eye(k, dtype=bool))

    def pair_fn(live):
        g = members[live]
        left, right = np.ravel(g[:, i]), np.ravel(g[:, j])
        n = ctx.size(0)
        return [(0, Map("rows", left.size, n, idx=left), 0, Map("rows", right.size, n, idx=right))]
    return Local(local.maps, pair_fn=pair_fn)


def _index_rule(ctx):
    """Structural primitives whose output elements each copy one input element
    (reshape, broadcast_to, transpose, gather): the primitive's own NumPy
    implementation applied to the input's element numbers gives the map."""
    if not ctx.dep[0]:
        return Local([None] * ctx.n_in)
    others = [ctx.value(k) for k in range(1, ctx.n_in)]
    if any(v is None for v in others):           # index arrays not known: anything may be read
        return Local([Map.dense(ctx.out_size, ctx.size(0))] + [None] * len(others))
    src = np.arange(ctx.size(0), dtype=np.int64).reshape(ctx.shape(0))
    idx = ctx.eqn.prim.impl(src, *others, **ctx.params)
    return Local([Map.from_index(idx, ctx.size(0))] + [None] * len(others))


def _concatenate_rule(ctx):
    maps = []
    for k in range(ctx.n_in):
        if not ctx.dep[k]:
            maps.append(None)
            continue
        parts = [np.arange(ctx.size(j), dtype=np.int64).reshape(ctx.shape(j)) if j == k
                 else np.full(ctx.shape(j), -1, dtype=np.int64) for j in range(ctx.n_in)]
        maps.append(Map.from_index(np.concatenate(parts, axis=ctx.params["axis"]), ctx.size(k)))
    return Local(maps)


def _scatter_add_rule(ctx):
    if not ctx.dep[0]:
        return Local([None] * ctx.n_in)
    arrays = [ctx.value(k) for k in range(1, ctx.n_in)]
    rest = [None] * len(arrays)
    if any(v is None for v in arrays):
        return Local([Map.dense(ctx.out_size, ctx.size(0))] + rest)
    spec = ctx.params["spec"]
    pos = np.arange(ctx.out_size, dtype=np.int64).reshape(ctx.params["shape"])[_np_index(spec, arrays)]
    src = np.broadcast_to(np.arange(ctx.size(0), dtype=np.int64).reshape(ctx.shape(0)), np.shape(pos))
    return Local([Map.matrix(_bool_csr(np.ravel(pos), np.ravel(src), (ctx.out_size, ctx.size(0))))] + rest)


def _fft_rule(ctx):
    # linear; each output element depends on every input element with the same leading
    # (untransformed) index: dense blocks along the transformed trailing axes, no pairs
    if not ctx.dep[0]:
        return Local([None])
    k = len(ctx.params["fft_lengths"])
    shape, out_shape = ctx.shape(0), ctx.out_shape
    lead = int(np.prod(shape[:len(shape) - k], dtype=np.int64))
    a, b = int(np.prod(out_shape[-k:], dtype=np.int64)), int(np.prod(shape[-k:], dtype=np.int64))
    if lead * a * b > DENSE_LIMIT:
        raise MemoryError(f"sparsity detection: an fft pattern ({lead} blocks of {a} x {b}) exceeds "
                          f"{DENSE_LIMIT} entries")
    sp = scipy_sparse()
    return Local([Map.matrix(sp.kron(sp.identity(lead, dtype=bool, format="csr"), np.ones((a, b), dtype=bool),
                                     format="csr"))])


def _dense_rule(ctx):
    """Every output element depends on every input element; all pairs interact.
    The fallback for primitives without a finer rule (custom rules, linear algebra)."""
    maps = [Map.dense(ctx.out_size, ctx.size(k)) if ctx.dep[k] else None for k in range(ctx.n_in)]
    ks = [k for k in range(ctx.n_in) if ctx.dep[k]]
    return Local(maps, [(k, l) for i, k in enumerate(ks) for l in ks[i:]])


def _solve_rule(ctx):
    # x = A^-1 b per matrix of the stack: each column of x depends on all of its own A and
    # on the same column of its own b (a: (..., n, n); b: (n,) with a 2-D a, or (..., n, k)
    # with the batch shape of a)
    sa, sb = ctx.shape(0), ctx.shape(1)
    n = sa[-1]
    nb = int(np.prod(sa[:-2], dtype=np.int64))
    k = 1 if len(sb) == 1 else sb[-1]
    maps = [None, None]
    if nb == 1 and len(sb) == 1:
        dense = [Map.dense(ctx.out_size, ctx.size(i)) if ctx.dep[i] else None for i in (0, 1)]
        return Local(dense, ((0, 0), (0, 1)))
    sp = scipy_sparse()
    if ctx.dep[0]:
        maps[0] = (Map.dense(ctx.out_size, ctx.size(0)) if nb == 1 else
                   Map.matrix(sp.kron(sp.identity(nb, dtype=bool), np.ones((n * k, n * n), dtype=bool),
                                      format="csr")))
    if ctx.dep[1]:
        per = sp.kron(np.ones((n, n), dtype=bool), sp.identity(k, dtype=bool), format="csr")
        maps[1] = Map.matrix(sp.kron(sp.identity(nb, dtype=bool), per, format="csr"))
    return Local(maps, ((0, 0), (0, 1)))


def _det_rule(ctx):
    # per matrix of the stack (..., n, n): the determinant depends on all of its own
    # matrix, and d^2 det / da_ij da_kl (a signed minor) is nonzero only for i != k, j != l
    s = ctx.shape(0)
    n = s[-1]
    nb = int(np.prod(s[:-2], dtype=np.int64))
    if n == 0 or nb == 0 or not ctx.dep[0]:
        return Local([None])
    if nb == 1:
        maps = [Map.dense(1, ctx.size(0))]
    else:
        sp = scipy_sparse()
        maps = [Map.matrix(sp.kron(sp.identity(nb, dtype=bool), np.ones((1, n * n), dtype=bool),
                                   format="csr"))]
    if n == 1:
        return Local(maps)                 # det of a 1x1 matrix is its entry: linear
    if nb * (n * (n - 1)) ** 2 > PAIR_LIMIT:
        return Local(maps, ((0, 0),))      # all pairs within each matrix
    i, j, k, l = np.nonzero(np.ones((n, n, n, n), dtype=bool))
    sel = (i != k) & (j != l)
    left, right = i[sel] * n + j[sel], k[sel] * n + l[sel]
    size = ctx.size(0)

    def pair_fn(live):
        b = np.flatnonzero(live)
        if b.size == 0:
            return []
        off = b[:, None] * (n * n)         # the live matrices' first elements
        lt, rt = np.ravel(off + left[None, :]), np.ravel(off + right[None, :])
        return [(0, Map("rows", lt.size, size, idx=lt), 0, Map("rows", rt.size, size, idx=rt))]
    return Local(maps, pair_fn=pair_fn)


def _adjugate_rule(ctx):
    # per matrix of the stack (..., n, n), block-diagonal over the batch
    s = ctx.shape(0)
    n = s[-1]
    nb = int(np.prod(s[:-2], dtype=np.int64))
    if n <= 1 or nb == 0 or not ctx.dep[0]:
        return Local([None])               # adj of a 1x1 matrix is the constant [[1]]
    if n == 2:                             # linear: [[d, -b], [-c, a]]
        idx = np.arange(nb, dtype=np.int64)[:, None] * 4 + np.array([3, 1, 2, 0], dtype=np.int64)
        return Local([Map.from_index(np.ravel(idx), ctx.size(0))])
    if nb == 1:
        return Local([Map.dense(ctx.out_size, ctx.size(0))], ((0, 0),))
    sp = scipy_sparse()
    block = np.ones((n * n, n * n), dtype=bool)
    return Local([Map.matrix(sp.kron(sp.identity(nb, dtype=bool), block, format="csr"))], ((0, 0),))


# einsum: "ij,jk->ik"-style explicit specs, no index repeated within an operand

def _einsum_exists(ctx, letters, skip, extra=()):
    """Boolean tensor over ``letters``: whether some assignment of the other indices
    makes every constant operand (except those in ``skip``) nonzero, together with
    ``extra`` (subscript, boolean array) factors. Non-constant operands count as
    possibly nonzero everywhere."""
    ins, _ = ctx.params["spec"].split("->")
    subs = ins.split(",")
    sizes = _einsum_sizes(ctx)
    factors = list(extra)
    for k, s in enumerate(subs):
        if k in skip or ctx.dep[k]:
            continue
        c = ctx.const(k)
        if c is not None:
            factors.append((s, np.asarray(c) != 0))
    # an index summed over an empty range makes every term vanish
    used = set(letters)
    if any(sizes[c] == 0 for c in sizes if c not in used):
        return np.zeros([sizes[c] for c in letters], dtype=bool)
    if not factors:
        return np.ones([sizes[c] for c in letters], dtype=bool)
    present = set("".join(s for s, _ in factors))
    out_letters = "".join(c for c in letters if c in present)
    spec = ",".join(s for s, _ in factors) + "->" + out_letters
    t = np.einsum(spec, *[f.astype(np.float64) for _, f in factors], optimize=len(factors) > 2) > 0
    shape = [sizes[c] if c in present else 1 for c in letters]
    return np.broadcast_to(t.reshape(shape), [sizes[c] for c in letters])


def _einsum_sizes(ctx):
    ins, _ = ctx.params["spec"].split("->")
    sizes = {}
    for k, s in enumerate(ins.split(",")):
        for c, d in zip(s, ctx.shape(k)):
            sizes[c] = d
    return sizes


def _positions(t, letters, subs, sizes):
    """For each True entry of ``t`` (a tensor over ``letters``): its flat element number
    in operands with the subscripts ``subs``."""
    flat = np.flatnonzero(t)
    coords = np.unravel_index(flat, t.shape) if t.ndim else ()
    out = []
    for sub in subs:
        if not sub:
            out.append(np.zeros(flat.size, dtype=np.int64))
        else:
            out.append(np.ravel_multi_index([coords[letters.index(c)] for c in sub],
                                            [sizes[c] for c in sub]).astype(np.int64))
    return out


def _einsum_rule(ctx):
    ins, out = ctx.params["spec"].split("->")
    subs = ins.split(",")
    sizes = _einsum_sizes(ctx)
    maps = []
    for k, s in enumerate(subs):
        if not ctx.dep[k]:
            maps.append(None)
            continue
        letters = out + "".join(c for c in s if c not in out)
        rows, cols = _positions(_einsum_exists(ctx, letters, skip={k}), letters, (out, s), sizes)
        maps.append(Map.matrix(_bool_csr(rows, cols, (ctx.out_size, ctx.size(k)))))
    varying = [k for k in range(len(subs)) if ctx.dep[k]]

    def pair_fn(live):
        # multilinear: operands k != l interact through each product term that reaches
        # a live output element; pair them term by term (over the indices of both)
        res = []
        live_t = live.reshape([sizes[c] for c in out]) if out else live.reshape(())
        for i, k in enumerate(varying):
            for l in varying[i + 1:]:
                letters = subs[k] + "".join(c for c in subs[l] if c not in subs[k])
                t = _einsum_exists(ctx, letters, skip={k, l}, extra=((out, live_t),))
                pk, pl = _positions(t, letters, (subs[k], subs[l]), sizes)
                if pk.size:
                    res.append((k, Map("rows", pk.size, ctx.size(k), idx=pk),
                                l, Map("rows", pl.size, ctx.size(l), idx=pl)))
        return res
    return Local(maps, pair_fn=pair_fn)


_NESTING = [0]


def _custom_jvp_rule(ctx):
    """``custom_jvp``: the user's JVP rule, traced with symbolic tangents, is a Graph
    from (primals, tangents) to the output tangent. Its Jacobian in the tangents is
    the local map; its mixed (tangent k, primal l) Hessian entries are the input
    pairs with a nonzero second derivative (the coefficient of t_a depends on p_b).
    Falls back to the dense rule when the JVP rule cannot be traced on its own."""
    jvp = ctx.params.get("jvp")
    if jvp is None or _NESTING[0] >= 8:
        return _dense_rule(ctx)
    n = ctx.n_in
    b = Builder("sparsity")
    vals = [ctx.peek(k) for k in range(n)]
    try:
        primals = [b.new_arg(x.aval, v) for x, v in zip(ctx.eqn.inputs, vals)]
        tangents = [b.new_arg(x.aval) for x in ctx.eqn.inputs]
        _, t_out = jvp(primals, tangents)
        g = b.finish([t._var for t in primals + tangents], [t_out[0]])
    except Exception:           # value-dependent code on tangents, captured tracers, ...
        b.active = False
        if ctx.strict and any(v is None for v in vals):
            raise ValueNeeded("a custom_jvp rule needs the values of its primal inputs") from None
        return _dense_rule(ctx)
    if g.constvars or g.outvars[0] is None:
        return _dense_rule(ctx)
    _NESTING[0] += 1            # a JVP rule that calls custom_jvp functions is analyzed in turn
    try:
        jac = jacobian_pattern(g, strict=ctx.strict).tocsc()
        hess = hessian_pattern(g, strict=ctx.strict)
    finally:
        _NESTING[0] -= 1
    off = np.concatenate([[0], np.cumsum([ctx.size(k) for k in range(n)] * 2)]).astype(np.int64)
    maps = []
    for k in range(n):
        block = jac[:, off[n + k]:off[n + k + 1]]
        maps.append(Map.matrix(block) if ctx.dep[k] and block.nnz else None)
    pairs = []
    for k in range(n):
        for l in range(n):
            if maps[k] is None or maps[l] is None:
                continue
            block = hess[off[n + k]:off[n + k + 1], off[l]:off[l + 1]].tocoo()
            if block.nnz:
                pairs.append((k, block.row.astype(np.int64), l, block.col.astype(np.int64)))

    def pair_fn(live):
        if not live.any():
            return []
        return [(k, Map("rows", a.size, ctx.size(k), idx=a), l, Map("rows", c.size, ctx.size(l), idx=c))
                for k, a, l, c in pairs]
    return Local(maps, pair_fn=pair_fn)


#: the structural rules a record's ``sparsity`` field can name; an elementwise record
#: gives instead the tuple of its input pairs with a nonzero mixed second derivative
KINDS = {
    "zero": _zero_rule,
    "sign": _sign_rule,
    "select": _select_rule, "convert": _convert_rule, "integer_pow": _integer_pow_rule,
    "reduce": _reduce(()), "reduce_prod": _reduce_prod_rule, "cumsum": _cumsum_rule,
    "index": _index_rule, "concatenate": _concatenate_rule, "scatter_add": _scatter_add_rule,
    "einsum": _einsum_rule, "fft": _fft_rule,
    "solve": _solve_rule, "det": _det_rule, "adjugate": _adjugate_rule,
    # user rules (custom.py): custom_jvp from its traced JVP rule; custom_vjp (whose
    # derivative is an opaque backward function) conservatively; checkpoint_call is
    # inlined before propagation
    "custom_jvp": _custom_jvp_rule, "dense": _dense_rule,
}
_ELEMENTWISE_RULES: dict = {}


def rule_for(prim):
    """The sparsity rule the record of ``prim`` names (SparsityRuleError if none)."""
    kind = prim.sparsity
    if type(kind) is tuple:
        rule = _ELEMENTWISE_RULES.get(kind)
        if rule is None:
            rule = _ELEMENTWISE_RULES[kind] = _elementwise(kind)
        return rule
    rule = KINDS.get(kind)
    if rule is None:
        raise SparsityRuleError(
            f"sparsity detection: primitive {prim.name!r} has no sparsity rule (its record's "
            f"`sparsity` field is {kind!r}). Fix: give the record one (an elementwise tuple of input "
            "pairs, or one of " + ", ".join(sorted(KINDS)) + "), or use the dense jacobian/hessian.")
    return rule


# -- propagation ------------------------------------------------------------------------------

def _is_float(aval):
    return aval.dtype.kind in "fc"


def _inline_checkpoints(graph: Graph, strict=False):
    """Equations with ``checkpoint_call`` replaced by the function it wraps (its
    derivative is that function's derivative), and the values seen while tracing."""
    values = dict(graph.values or {})
    alias: dict = {}
    eqns: list = []

    def resolve(x):
        while isinstance(x, Var) and x in alias:
            x = alias[x]
        return x

    def visit(eqn_list, depth):
        for e in eqn_list:
            inputs = [resolve(x) for x in e.inputs]
            if e.prim.name == "checkpoint_call" and depth < 20:
                sub = _trace_checkpoint(e, inputs, values, strict)
                if sub is not None:
                    alias.update(zip(sub.invars, inputs))
                    values.update(sub.values or {})
                    visit(sub.eqns, depth + 1)
                    alias[e.outvar] = resolve(sub.outvars[0])
                    continue
            eqns.append(Eqn(e.prim, inputs, e.params, e.outvar))

    visit(graph.eqns, 0)
    visit = None            # noqa: F841  (the recursive closure is a reference cycle holding values)
    return eqns, [resolve(o) for o in graph.outvars], values


def _trace_checkpoint(eqn, inputs, values, strict=False):
    fun, k = eqn.params.get("fun"), eqn.params.get("k")
    if fun is None or k is None:
        return None
    b = Builder("sparsity")
    tracers = []
    missing = False
    for x in inputs:
        v = x.val if isinstance(x, Lit) else values.get(x)
        if not isinstance(v, (np.ndarray, np.generic, bool, int, float)):
            v = None
            missing = True
        tracers.append(b.new_arg(x.aval, v))
    try:
        out = fun(*tracers)[k]
        sub = b.finish([t._var for t in tracers], [out])
    except Exception:          # value-dependent code, captured tracers: keep the call whole
        b.active = False
        if strict and missing:
            raise ValueNeeded("a checkpointed function needs the values of its inputs") from None
        return None
    if sub.constvars or sub.outvars[0] is None:
        return None
    return sub


class _Analysis:
    """Dependency propagation over one Graph (shared by the Jacobian and Hessian passes).

    ``wrt``: the number of leading inputs to differentiate (default: all); the other
    inputs are arguments held fixed, whose values a shape-only trace does not know.
    ``strict``: raise :class:`ValueNeeded` where a rule would read an unrecorded value
    (see :class:`RuleContext`)."""

    def __init__(self, graph: Graph, wrt=None, strict=False):
        eqns, outvars, values = _inline_checkpoints(graph, strict)
        self.outvars = outvars
        self.invars = list(graph.invars) if wrt is None else list(graph.invars[:wrt])
        sizes = [int(np.prod(v.aval.shape, dtype=np.int64)) for v in self.invars]
        self.offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
        self.ncols = int(self.offsets[-1])
        # equations no output reads are not analyzed at all (dead code)
        reads = {o for o in outvars if isinstance(o, Var)}
        alive = set()
        for i in range(len(eqns) - 1, -1, -1):
            if eqns[i].outvar in reads:
                alive.add(i)
                reads.update(x for x in eqns[i].inputs if isinstance(x, Var))
        # structural reach from the inputs, and which variables carry derivative dependencies
        tainted = set(graph.invars)
        wtainted = set(self.invars) if wrt is not None else tainted
        dep = {v for v in self.invars if _is_float(v.aval)}
        locals_ = {}
        for i, e in enumerate(eqns):
            if any(isinstance(x, Var) and x in tainted for x in e.inputs):
                tainted.add(e.outvar)
                if wtainted is not tainted and any(isinstance(x, Var) and x in wtainted for x in e.inputs):
                    wtainted.add(e.outvar)
            if i not in alive:
                continue
            dflags = [isinstance(x, Var) and x in dep for x in e.inputs]
            if not any(dflags) or not _is_float(e.outvar.aval):
                continue
            local = rule_for(e.prim)(RuleContext(e, dflags, values, tainted, wtainted, strict))
            if any(m is not None for m in local.maps):
                locals_[i] = local
                dep.add(e.outvar)
        # keep only the equations some output needs
        needed = {o for o in outvars if isinstance(o, Var) and o in dep}
        keep = []
        for i in range(len(eqns) - 1, -1, -1):
            e = eqns[i]
            if i in locals_ and e.outvar in needed:
                keep.append(i)
                for x, m in zip(e.inputs, locals_[i].maps):
                    if m is not None:
                        needed.add(x)
        keep.reverse()
        self.eqns, self.locals, self.order = eqns, locals_, keep

    def _seed(self, v):
        j = self.invars.index(v)
        n = int(self.offsets[j + 1] - self.offsets[j])
        return identity_pattern(n, int(self.offsets[j]), self.ncols)

    def run(self, hessian=False):
        """Forward propagation. Returns (D of each output or None, symmetric factors
        [A], cross factors [(L, R)]): the Hessian pattern is the union of the A^T A and
        of the L^T R and their transposes."""
        eqns, locals_ = self.eqns, self.locals
        live = self._liveness() if hessian else None
        D = {v: self._seed(v) for v in self.invars if _is_float(v.aval)}
        # which dependency matrices are read, and when for the last time (then freed)
        last = {}
        for i in self.order:
            for x in eqns[i].inputs:
                if isinstance(x, Var):
                    last[x] = i
        keep = set() if hessian else set(o for o in self.outvars if isinstance(o, Var))
        sym, cross = [], []
        for i in self.order:
            e, local = eqns[i], locals_[i]
            if e.outvar in last or e.outvar in keep:
                parts = [m.apply(D[x]) for x, m in zip(e.inputs, local.maps) if m is not None and x in D]
                if parts:
                    acc = parts[0]
                    for p in parts[1:]:
                        acc = acc + p
                    D[e.outvar] = acc
            if hessian and (local.pairs or local.pair_fn is not None):
                lv = live.get(e.outvar)
                if lv is not None and lv.any():
                    for k, qk, l, ql in local.pair_maps(lv):
                        xk, xl = e.inputs[k], e.inputs[l]
                        if xk in D and xl in D:
                            if xk is xl and qk is ql:
                                sym.append(qk.apply(D[xk]))
                            else:
                                cross.append((qk.apply(D[xk]), ql.apply(D[xl])))
            for x in e.inputs:
                if isinstance(x, Var) and last.get(x) == i and x not in keep:
                    D.pop(x, None)
        return [D.get(o) if isinstance(o, Var) else None for o in self.outvars], sym, cross

    def _liveness(self):
        """For each variable, which of its elements reach an output (a boolean mask)."""
        live = {}
        for o in self.outvars:
            if isinstance(o, Var):
                live[o] = np.ones(int(np.prod(o.aval.shape, dtype=np.int64)), dtype=bool)
        for i in reversed(self.order):
            e = self.eqns[i]
            lo = live.get(e.outvar)
            if lo is None or not lo.any():
                continue
            for x, m in zip(e.inputs, self.locals[i].maps):
                if m is None:
                    continue
                pb = m.pullback(lo)
                prev = live.get(x)
                live[x] = pb if prev is None else (prev | pb)
        return live


def jacobian_pattern(graph: Graph, wrt=None, strict=False):
    """The structural nonzeros of the Jacobian of ``graph``: a boolean CSR matrix with a
    row per output element (outputs raveled and concatenated) and a column per input
    element (inputs raveled and concatenated).

    ``wrt``: differentiate with respect to the first ``wrt`` inputs only (the others
    are held fixed). ``strict``: for a Graph from a shape-only trace, raise
    :class:`ValueNeeded` where a rule would need a value the trace left abstract (a
    gather's traced index array, a constant mask passed as an argument), instead of
    returning a coarser pattern."""
    sp = scipy_sparse()
    a = _Analysis(graph, wrt, strict)
    outs, _, _ = a.run(hessian=False)
    blocks = []
    for o, d in zip(a.outvars, outs):
        size = 0 if o is None else int(np.prod(o.aval.shape, dtype=np.int64))
        blocks.append(d if d is not None else _empty((size, a.ncols)))
    if not blocks:
        return _empty((0, a.ncols))
    out = sp.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0].tocsr()
    return _canonical(out)


def hessian_pattern(graph: Graph, wrt=None, strict=False):
    """The structural nonzeros of the Hessian of ``graph``'s output (with several output
    elements: of any weighted sum of them): a symmetric boolean CSR matrix over the
    input elements (``wrt``, ``strict``: as for :func:`jacobian_pattern`)."""
    sp = scipy_sparse()
    a = _Analysis(graph, wrt, strict)
    _, sym, cross = a.run(hessian=True)
    n = a.ncols
    h = _empty((n, n))
    if sym:
        s = sp.vstack(sym, format="csr") if len(sym) > 1 else sym[0]
        h = s.T.tocsr() @ s
    if cross:
        left = sp.vstack([lr[0] for lr in cross], format="csr")
        right = sp.vstack([lr[1] for lr in cross], format="csr")
        c = left.T.tocsr() @ right
        h = h + c + c.T
    return _canonical(h)


def _canonical(m):
    m = m.tocsr()
    if m.dtype != bool:
        m = m.astype(bool)
    m.eliminate_zeros()
    m.sum_duplicates()
    m.sort_indices()
    return m
