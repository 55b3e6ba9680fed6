"""The functions formulas know, read from the primitive records.

A unary primitive whose record has a ``symbol`` is a function of formulas under
that name: the parser accepts it, formulas lower it to the primitive, fold it with
the primitive's ``impl`` and differentiate it with the primitive's JVP rule.
A few names formulas spell are not primitives of their own and are rewritten:
``ln`` (log), ``relu`` (maximum with 0), ``softplus`` (logaddexp with 0) and
``step``.
"""
from __future__ import annotations

from .. import ops  # noqa: F401  (importing the package registers the records)
from ..core.primitive import REGISTRY

#: formula name -> primitive record, for every record with a ``symbol``
RECORDS = {p.symbol: p for p in REGISTRY.values() if p.symbol}
#: names formulas spell that are rewritten into other primitives
SUGAR = frozenset({"ln", "relu", "softplus", "step"})
#: every function name a formula may call
NAMES = frozenset(RECORDS) | SUGAR
