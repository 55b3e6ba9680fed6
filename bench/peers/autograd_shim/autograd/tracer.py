from .builtins import _is_traced as isbox  # noqa: F401
from .extend import primitive  # noqa: F401
