"""Graph colorings that compress sparse derivatives, and the recovery of the entries.

Given a sparsity pattern (a boolean ``scipy.sparse`` matrix, as
:mod:`partiald.transforms.sparsity` detects it), a coloring groups columns so
that one product per color gives every structural entry:

* :func:`color_columns`: a column coloring of a Jacobian (columns of one color
  share no row; distance-2 / Curtis-Powell-Reid), greedy largest-first, or
  cyclic ``j mod k`` for banded patterns, checked; applied to the transpose it
  colors rows for reverse mode;
* :func:`star_coloring`: a star coloring of a symmetric (Hessian) pattern, with
  the two-colored-star recovery of :func:`recover_star`.

The ``*_recovery_index`` functions turn a coloring into one fancy index into
the compressed product; ``recover_*`` apply it.
"""
from __future__ import annotations

import numpy as np

from .transforms.sparsity import scipy_sparse

#: greedy (sequential) colorings run when the pattern has at most this many entries, or
#: when no cheaper cyclic coloring is found; above it a valid cyclic coloring is kept
GREEDY_MAX_NNZ = 2_000_000


# -- coloring ---------------------------------------------------------------------------------

def _coo(pattern):
    p = pattern.tocsr()
    rows = np.repeat(np.arange(p.shape[0], dtype=np.int64), np.diff(p.indptr))
    return rows, p.indices.astype(np.int64)


def is_column_coloring(pattern, colors):
    """No two columns of one color share a row (the compressed J S gives J exactly)."""
    colors = np.asarray(colors, dtype=np.int64)
    rows, cols = _coo(pattern)
    if rows.size == 0:
        return True
    k = int(colors.max()) + 1 if colors.size else 1
    return int(np.bincount(rows * k + colors[cols], minlength=pattern.shape[0] * k).max()) <= 1


def is_star_coloring(pattern, colors):
    """A distance-1 coloring of the symmetric pattern's graph in which every path on four
    vertices uses at least three colors; equivalently, for every off-diagonal entry
    (i, j), i has no other neighbor of j's color or j has no other neighbor of i's."""
    rows, cols = _coo(pattern)
    off = rows != cols
    return _star_ok(pattern.shape[0], rows[off], cols[off], np.asarray(colors, dtype=np.int64))


def _star_ok(n, rows, cols, colors):
    """:func:`is_star_coloring` on the off-diagonal entries ``(rows, cols)``."""
    if rows.size == 0:
        return True
    cr, cc = colors[rows], colors[cols]
    if np.any(cr == cc):
        return False
    k = int(colors.max()) + 1
    key = rows * k + cc
    cnt = np.bincount(key, minlength=n * k)
    return bool(((cnt[key] == 1) | (cnt[cols * k + cr] == 1)).all())


def _greedy_columns(pattern):
    """Curtis-Powell-Reid greedy column coloring, largest column first."""
    n = pattern.shape[1]
    csc = pattern.tocsc()
    ptr = csc.indptr.tolist()
    rows = csc.indices.tolist()
    order = np.argsort(-np.diff(csc.indptr), kind="stable").tolist()
    used = [0] * pattern.shape[0]            # per row: a bit mask of the colors in it
    colors = [0] * n
    for j in order:
        rs = rows[ptr[j]:ptr[j + 1]]
        forbidden = 0
        for r in rs:
            forbidden |= used[r]
        c = (~forbidden & (forbidden + 1)).bit_length() - 1
        colors[j] = c
        bit = 1 << c
        for r in rs:
            used[r] |= bit
    return np.asarray(colors, dtype=np.int64)


def _cyclic(n, k, perm=None):
    colors = np.arange(n, dtype=np.int64) % k
    if perm is None:
        return colors
    out = np.empty(n, dtype=np.int64)
    out[perm] = colors
    return out


def _n_colors(colors):
    return int(colors.max()) + 1 if colors.size else 0


def _greedy_needed(cands, lower, nnz):
    """Run the (sequential, Python) greedy unless a cyclic coloring already reaches the
    lower bound, or the pattern is large and a cyclic coloring exists."""
    if not cands:
        return True
    best = min(t[0] for t in cands)
    return best > lower and nnz <= GREEDY_MAX_NNZ


def _star_lower_bound(n, rows, cols):
    """2 with any edge; 3 when some edge joins two vertices of degree >= 2 (then the
    graph has a path on four vertices or a triangle). ``rows, cols``: the edges."""
    if rows.size == 0:
        return 1
    deg = np.bincount(rows, minlength=n)
    return 3 if np.any((deg[rows] >= 2) & (deg[cols] >= 2)) else 2


def _banded_limit(n):
    """Cyclic colorings are tried for bands up to this width (more colors than this
    would not beat the greedy)."""
    return max(64, int(2 * np.sqrt(n)))


def _first_valid(ks, make, valid, pattern, fallback, name, tries=8):
    """The first k in ``ks`` (at most ``tries`` of them) whose coloring ``make(k)`` is
    valid, else the always-valid ``fallback`` number of colors."""
    for k in ks[:tries]:
        c = make(k)
        if valid(pattern, c):
            return k, c, name
    return fallback, make(fallback), name


def color_columns(pattern, method="auto"):
    """A column coloring of a Jacobian pattern: columns of one color share no row, so
    one JVP with their summed unit vectors recovers all of them.

    ``method``: ``"greedy"`` (largest-first Curtis-Powell-Reid), ``"cyclic"`` (``j mod
    k`` with the smallest valid k, for banded patterns), or ``"auto"`` (the better of
    both, cyclic only for banded patterns; the sequential greedy is skipped when the
    cyclic coloring reaches the lower bound max-row-count, or when the pattern has
    over ``GREEDY_MAX_NNZ`` entries and a cyclic coloring exists). Returns
    ``(colors, method_used)``.
    """
    pattern = pattern.tocsr()
    m, n = pattern.shape
    if pattern.nnz == 0:
        return np.zeros(n, dtype=np.int64), "trivial"
    counts = np.diff(pattern.indptr)
    lower = int(counts.max())
    if method not in ("auto", "greedy", "cyclic"):
        raise ValueError(f"color_columns: unknown method {method!r}; use 'auto', 'greedy' or 'cyclic'")
    cands = []
    if method != "greedy":
        rows, cols = _coo(pattern)
        lo = np.full(m, n, dtype=np.int64)
        hi = np.full(m, -1, dtype=np.int64)
        np.minimum.at(lo, rows, cols)
        np.maximum.at(hi, rows, cols)
        width = int((hi - lo)[counts > 0].max()) + 1          # j mod width is always valid
        if method == "cyclic" or width <= _banded_limit(n):
            cands.append(_first_valid(range(lower, width), lambda k: _cyclic(n, k), is_column_coloring,
                                      pattern, width, "cyclic"))
    if method == "greedy" or (method == "auto" and _greedy_needed(cands, lower, pattern.nnz)):
        c = _greedy_columns(pattern)
        cands.append((_n_colors(c), c, "greedy"))
    k, c, used = min(cands, key=lambda t: t[0])
    return c, used


def _greedy_star(pattern):
    """Greedy star coloring, largest degree first.

    Besides distance-1 constraints, a vertex v may not take a color that would make
    a path v-w-x-y two-colored. With ``cnt[u][c]`` the number of colored
    neighbors of u with color c, an edge (w, x) is safe while ``cnt[w][color x] == 1``
    or ``cnt[x][color w] == 1``; ``F[w][b]`` counts the neighbors x of w with color b
    and ``cnt[x][color w] >= 2`` (whose color v must not repeat next to w)."""
    n = pattern.shape[0]
    p = pattern.tocsr()
    rows, cols = _coo(p)
    off = rows != cols
    adj_ptr = np.concatenate([[0], np.cumsum(np.bincount(rows[off], minlength=n))]).tolist()
    adj_idx = cols[off].tolist()
    adj = [adj_idx[adj_ptr[v]:adj_ptr[v + 1]] for v in range(n)]
    order = np.argsort(-np.diff(np.asarray(adj_ptr)), kind="stable").tolist()
    color = [-1] * n
    cnt = [{} for _ in range(n)]
    F = [{} for _ in range(n)]
    for v in order:
        nb = adj[v]
        cv = cnt[v]
        forbidden = set()
        for w in nb:
            a = color[w]
            if a < 0:
                continue
            forbidden.add(a)
            if cv.get(a, 0) >= 2:
                forbidden.update(cnt[w])            # then w must see v's color only once
            for b, k in F[w].items():
                if k:
                    forbidden.add(b)
        c = 0
        while c in forbidden:
            c += 1
        color[v] = c
        for w in nb:
            cw = cnt[w]
            k = cw.get(c, 0) + 1
            cw[c] = k
            aw = color[w]
            if aw < 0:
                continue
            if k == 2:
                for y in adj[w]:
                    if color[y] == c:
                        F[y][aw] = F[y].get(aw, 0) + 1
            elif k > 2:
                F[v][aw] = F[v].get(aw, 0) + 1
        for y in nb:
            ay = color[y]
            if ay >= 0 and cv.get(ay, 0) >= 2:
                F[y][c] = F[y].get(c, 0) + 1
    return np.asarray(color, dtype=np.int64)


def star_coloring(pattern, method="auto"):
    """A star coloring of a symmetric (Hessian) pattern: with one HVP per color, every
    entry is read off directly (see :func:`recover_star`).

    ``method``: ``"greedy"`` (largest degree first), ``"cyclic"`` (``i mod k`` in the
    natural or reverse Cuthill-McKee order, checked, for banded patterns), or
    ``"auto"`` (the better of both, cyclic only for banded patterns; the sequential
    greedy is skipped when the cyclic coloring reaches a simple lower bound (2, or 3
    when the graph has a path on four vertices or a triangle), or when the pattern has
    over ``GREEDY_MAX_NNZ`` entries and a cyclic coloring exists). Returns
    ``(colors, method_used)``.
    """
    sp = scipy_sparse()
    p = pattern.tocsr()
    n = p.shape[0]
    rows, cols = _coo(p)
    off = rows != cols
    rows, cols = rows[off], cols[off]
    if rows.size == 0:
        return np.zeros(n, dtype=np.int64), "trivial"
    if method not in ("auto", "greedy", "cyclic"):
        raise ValueError(f"star_coloring: unknown method {method!r}; use 'auto', 'greedy' or 'cyclic'")

    def valid(_, colors):
        return _star_ok(n, rows, cols, colors)
    cands = []
    if method != "greedy":
        band = int(np.abs(rows - cols).max())
        orders = [(None, band, "cyclic")]
        if band > 2:
            from scipy.sparse.csgraph import reverse_cuthill_mckee
            perm = np.asarray(reverse_cuthill_mckee(sp.csr_matrix(p, dtype=np.int8), symmetric_mode=True),
                              dtype=np.int64)
            rank = np.empty(n, dtype=np.int64)
            rank[perm] = np.arange(n)
            orders.append((perm, int(np.abs(rank[rows] - rank[cols]).max()), "cyclic-rcm"))
        for perm, b, name in orders:
            # i mod (2b + 1) is a distance-2 coloring, hence a star coloring
            if method == "cyclic" or 2 * b + 1 <= _banded_limit(n):
                cands.append(_first_valid(range(b + 1, 2 * b + 1), lambda k, perm=perm: _cyclic(n, k, perm),
                                          valid, p, 2 * b + 1, name))
    if method == "greedy" or (method == "auto" and _greedy_needed(cands, _star_lower_bound(n, rows, cols), p.nnz)):
        c = _greedy_star(p)
        cands.append((_n_colors(c), c, "greedy"))
    k, c, used = min(cands, key=lambda t: t[0])
    return c, used


# -- recovery ---------------------------------------------------------------------------------
#
# Each ``*_index`` function gives, for every structural entry (in CSR data order), its
# position in the raveled compressed product, so that recovery is one fancy index; a
# caller that evaluates the same pattern many times computes the index once.
# ``by_color=True``: the compressed product is stored one row per color (k x n,
# e.g. the output of a vmap over the seeds) instead of one column per color.

def column_recovery_index(pattern, colors, k, by_color=False):
    """Positions of the Jacobian entries in ``J S`` (m x k, or k x m ``by_color``)."""
    rows, cols = _coo(pattern)
    c = np.asarray(colors, dtype=np.int64)[cols]
    return c * pattern.shape[0] + rows if by_color else rows * k + c


def row_recovery_index(pattern, colors):
    """Positions of the Jacobian entries in ``S^T J`` (k x n: one row per row color)."""
    rows, cols = _coo(pattern)
    return np.asarray(colors, dtype=np.int64)[rows] * pattern.shape[1] + cols


def star_recovery_index(pattern, colors, k, by_color=False):
    """Positions of the Hessian entries in ``H S`` (n x k, or k x n ``by_color``) for a
    star coloring: H[i, j] is ``(H S)[i, color j]`` when i has no other neighbor of j's
    color, and ``(H S)[j, color i]`` otherwise (then j has no other neighbor of i's
    color). Diagonal entries are always direct (no neighbor shares i's color)."""
    colors = np.asarray(colors, dtype=np.int64)
    rows, cols = _coo(pattern)
    n = pattern.shape[0]
    if rows.size == 0 or k == 0:
        return np.zeros(rows.size, dtype=np.int64)
    direct_key = rows * k + colors[cols]
    off = rows != cols
    cnt = np.bincount(direct_key[off], minlength=n * k)
    direct = cnt[direct_key] <= 1
    if not by_color:
        return np.where(direct, direct_key, cols * k + colors[rows])
    return np.where(direct, colors[cols] * n + rows, colors[rows] * n + cols)


def recover_columns(pattern, colors, compressed):
    """Jacobian entries from ``compressed = J S`` (one column per color): the CSR data
    array aligned with ``pattern.indices``."""
    b = np.ascontiguousarray(compressed)
    return b.reshape(-1)[column_recovery_index(pattern, colors, b.shape[1])]


def recover_rows(pattern, colors, compressed):
    """Jacobian entries from ``compressed = S^T J`` (one row per color of the rows)."""
    b = np.ascontiguousarray(compressed)
    return b.reshape(-1)[row_recovery_index(pattern, colors)]


def recover_star(pattern, colors, compressed):
    """Hessian entries from ``compressed = H S`` for a star coloring (see
    :func:`star_recovery_index`)."""
    b = np.ascontiguousarray(compressed)
    k = b.shape[1]
    if pattern.nnz == 0 or k == 0:
        return np.zeros(pattern.nnz, dtype=b.dtype)
    return b.reshape(-1)[star_recovery_index(pattern, colors, k)]
