"""partiald: partial derivatives for machine learning.

Exact derivatives of NumPy code in forward and reverse mode, to any order,
over pytrees of parameters. See README.md and API.md.
"""
from . import ops as _ops  # noqa: F401  (registers the primitives)
from . import numpy  # noqa: F401
from . import scipy  # noqa: F401  (partiald.scipy.special)
from . import nn  # noqa: F401
from . import optim  # noqa: F401
from . import plot  # noqa: F401  (matplotlib is imported only when a figure is drawn)
from . import datasets  # noqa: F401  (scikit-learn is imported only when a data set is loaded)
from .api import (grad, hessian, hessian_diag, hvp, jacfwd, jacobian, jacrev, jvp, laplacian,
                  linearize, make_graph, ravel_pytree, stop_gradient, value_and_grad, vjp)
from .check import check_grads
from .compile.jit import jit
from .core.debug import debug_nans
from .custom import checkpoint, custom_jvp, custom_vjp
from .vectorize import vmap
from .sparse import SparseInfo, hessian_sparsity, jacobian_sparsity, sparse_hessian, sparse_jacobian
from .core.errors import (EscapedTracerError, ExpressionTooLarge, MemoryBudgetError, MissingRuleError,
                          ParseError, TracerConversionError)
from .core.graph import Graph
from .core.interpret import interpret
from .symbolic.expr import Expr, expr
from .core.pytree import tree_flatten, tree_leaves, tree_map, tree_unflatten

__version__ = "0.1.0"

__all__ = [
    "expr", "Expr", "grad", "value_and_grad", "jvp", "vjp", "linearize", "jacfwd", "jacrev", "jacobian", "hessian",
    "hvp", "hessian_diag", "laplacian", "make_graph", "check_grads", "jit", "checkpoint", "custom_jvp",
    "custom_vjp", "debug_nans", "vmap", "sparse_jacobian", "sparse_hessian", "jacobian_sparsity",
    "hessian_sparsity", "SparseInfo", "stop_gradient", "interpret",
    "Graph", "ravel_pytree", "tree_flatten", "tree_unflatten", "tree_map", "tree_leaves",
    "ParseError", "ExpressionTooLarge", "MemoryBudgetError", "EscapedTracerError",
    "TracerConversionError", "MissingRuleError", "numpy", "scipy", "nn", "optim", "plot", "datasets",
]
