"""Formulas with non-finite numbers (inf, nan): values as NumPy evaluates the same text
(IEEE: 0*inf and 0/0 are nan), derivatives as ``pdx.grad`` computes them (whose
``safe_mul`` keeps 0 * inf = 0 for a zero tangent), and text that parses back."""
import itertools
import re
import warnings

import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald.core.errors import ParseError
from partiald.ops import elementwise as ew
from partiald.symbolic import canonical as C

POINTS = (-1.5, 0.0, 0.5, 2.0)
NONZERO = (-1.5, 0.5, 2.0)
_NS = {"log": np.log, "exp": np.exp, "sqrt": np.sqrt, "inf": np.inf, "nan": np.nan, "np": np}


def numpy_eval(text, **values):
    """``text`` evaluated by NumPy: every literal a float64 array (ufunc arithmetic, so
    0/0 is nan, not a ZeroDivisionError), '^' as '**'."""
    code = re.sub(r"(?<![A-Za-z_0-9.])(\d+(?:\.\d+)?)", r"np.array([\1], dtype=float)", text)
    code = code.replace("^", "**")
    env = {k: np.array([v], dtype=float) for k, v in values.items()}
    with np.errstate(all="ignore"):
        return float(np.asarray(eval(code, dict(_NS), env)).reshape(-1)[0])


def same(a, b):
    return (np.isnan(a) and np.isnan(b)) or a == b or abs(a - b) <= 1e-12 * abs(b)


# text, its canonical text form, the x at which NumPy's value of the text must be the formula's
# (points left out are where the formula takes SymPy's generic reading: 0*log(x) is 0 although
# log(0) is -inf; 1/(x/0) is 0 although x/0 is nan at x = 0)
TABLE = [
    ("0/0", "nan", POINTS),
    ("0*(1/0)", "nan", POINTS),
    ("(1/0)*0", "nan", POINTS),
    ("(x-x)/(x-x)", "nan", POINTS),
    ("0*x/0", "nan", POINTS),
    ("x*0/0", "nan", POINTS),
    ("0*x*(1/0)", "nan", POINTS),
    ("x*(1/0)*0", "nan", POINTS),
    ("0*(x/0)", "nan", POINTS),
    ("1/0 - 1/0", "nan", POINTS),
    ("x/0 - x/0", "nan", POINTS),
    ("inf/inf", "nan", POINTS),
    ("0*inf", "nan", POINTS),
    ("nan*x + 1", "nan", POINTS),
    ("x/0", "inf*x", POINTS),
    ("-x/0", "-inf*x", POINTS),
    ("x/(x-x)", "inf*x", POINTS),
    ("x/0 + y", "inf*x + y", POINTS),
    ("(x/0)^2", "inf*x^2", POINTS),
    ("x + 1/0", "x + inf", POINTS),
    ("x - 1/0", "x - inf", POINTS),
    ("2*(x + 1/0)", "2*x + inf", POINTS),
    ("(x - 1)/0", "inf*(x - 1)", POINTS),         # not inf*x - inf: nan at x = 1/2
    ("(x + inf)*inf", "inf*(x + inf)", POINTS),
    ("0*(x + inf)", "nan", POINTS),
    ("(x + inf)/inf", "nan", POINTS),
    ("x^0", "1", POINTS),
    ("0^0", "1", POINTS),
    ("(1/0)^0", "1", POINTS),
    ("(0/0)^0", "1", POINTS),
    ("0^(-1)", "inf", POINTS),
    ("0^(-1/2)", "inf", POINTS),
    ("0^x", "0^x", POINTS),
    ("2^(1/0)", "inf", POINTS),
    ("(1/2)^(1/0)", "0", POINTS),
    ("x^(1/0)", "x^inf", POINTS),
    ("x^(-1/0)", "x^-inf", NONZERO),              # 0^-inf is inf in NumPy
    ("x^(0/0)", "nan", (-1.5, 0.0, 0.5, 2.0)),
    ("(0/0)^x", "nan", NONZERO),                  # nan^0 is 1
    ("log(0)", "-inf", POINTS),
    ("0*log(0)", "nan", POINTS),
    ("x*log(0)", "-inf*x", POINTS),
    ("0*log(x)", "0", (0.5, 2.0)),
    ("log(0) + 1/0", "nan", POINTS),
    ("exp(-1/0)", "0", POINTS),
    ("exp(1/0)", "inf", POINTS),
    ("1/(x/0)", "0", NONZERO),
    ("sqrt(x-x)", "0", POINTS),
    ("sqrt(x)*(1/0)", "inf*sqrt(x)", (0.0, 0.5, 2.0)),
    ("inf*x", "inf*x", POINTS),
    ("-inf*x^2 + nan", "nan", POINTS),
]


@pytest.mark.parametrize("text, printed, xs", TABLE, ids=[t for t, _, _ in TABLE])
def test_value_matches_numpy_evaluation_of_the_text(text, printed, xs):
    f = pdx.expr(text)
    assert str(f) == printed
    for x in xs:
        values = {"x": x, "y": 0.75}
        got = float(f(**{v: values[v] for v in f.variables}))
        want = numpy_eval(text, **values)
        assert same(got, want), (text, x, got, want)


@pytest.mark.parametrize("text, printed, xs", TABLE, ids=[t for t, _, _ in TABLE])
def test_printed_form_parses_back(text, printed, xs):
    f = pdx.expr(text)
    assert pdx.expr(str(f)).node is f.node


def test_plain_products_are_ieee_safe_mul_keeps_the_derivative_convention():
    inf = C.num(float("inf"))
    # the engine: mul is NumPy's, safe_mul (derivative rules only) makes 0 * inf exactly 0
    with np.errstate(invalid="ignore"):
        assert np.isnan(ew.mul(0.0, np.inf)) and ew.safe_mul(0.0, np.inf) == 0.0
        assert ew.safe_mul(0.0, np.nan) == 0.0
    # the same primitives on formula nodes
    assert ew.mul(C.ZERO, inf) is C.NAN and C.mul(inf, C.ZERO) is C.NAN
    assert ew.safe_mul(C.ZERO, inf) is C.ZERO and ew.safe_mul(inf, C.ZERO) is C.ZERO
    assert ew.safe_mul(C.ZERO, C.NAN) is C.ZERO
    assert ew.safe_mul(C.num(2), inf) is inf
    assert C.SYMBOLIC_RULES["safe_mul"] is C.safe_mul and C.SYMBOLIC_RULES["mul"] is C.mul
    x = C.sym("x")
    assert C.mul(C.ZERO, x) is C.ZERO       # 0*x stays 0 (SymPy's reading)
    assert C.safe_mul(C.ZERO, C.mul(inf, x)) is C.ZERO
    assert C.mul(C.ZERO, C.mul(inf, x)) is C.NAN


# formula, the same function for pdx.grad, points where both are defined
GRADS = [
    ("x*log(0) + x^2", lambda x: x * pnp.log(0.0) + x**2, (-1.5, 0.5, 2.0)),
    ("x/0 + x^2", lambda x: x / 0.0 + x**2, (-1.5, 0.5, 2.0)),
    ("exp(x)/0", lambda x: pnp.exp(x) / 0.0, (-1.5, 0.5, 2.0)),
    ("(x/0)^2", lambda x: (x / 0.0) ** 2, (-1.5, 0.5, 2.0)),
    ("sqrt(0*x) + x", lambda x: pnp.sqrt(0.0 * x) + x, (-1.5, 0.5, 2.0)),     # engine: safe_mul(inf, 0)
    ("0*log(x) + x", lambda x: 0.0 * pnp.log(x) + x, (0.5, 2.0)),
    ("x^0 + 3*x", lambda x: x**0 + 3 * x, (-1.5, 0.5, 2.0)),
    ("(x - 1)/0", lambda x: (x - 1.0) / 0.0, (-1.5, 0.5, 2.0)),
    ("sin(x)*(1/0) + x", lambda x: pnp.sin(x) * np.inf + x, (0.5, 2.0)),
]


@pytest.mark.parametrize("text, fn, xs", GRADS, ids=[t for t, _, _ in GRADS])
def test_derivative_matches_grad(text, fn, xs):
    d = pdx.expr(text).diff("x")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for x in xs:
            got = float(d(**({"x": x} if d.variables else {})))
            want = float(pdx.grad(fn)(x))
            assert same(got, want), (text, x, got, want)


_ATOMS = ["x", "inf", "-inf", "nan", "x/0", "-x/0", "inf*x^2", "x^inf", "x + inf", "log(0)*y", "0",
          "2", "y/0", "(x - 1)/0", "x^-inf", "0^x"]


def test_round_trip_of_formulas_with_inf_and_nan():
    for a, b in itertools.product(_ATOMS, repeat=2):
        for op in "+-*/^":
            f = pdx.expr(f"({a}) {op} ({b})")
            s = str(f)
            assert pdx.expr(s).node is f.node, (a, op, b, s)
            assert set(f.variables) <= {"x", "y"}


def test_inf_and_nan_are_numbers_not_variables():
    assert pdx.expr("inf*x").variables == ("x",)
    assert pdx.expr("inf").node is C.num(float("inf"))
    assert pdx.expr("nan").node is C.NAN
    assert pdx.expr("-inf").node is C.num(float("-inf"))
    assert pdx.expr("2inf").node is C.num(float("inf"))
    assert pdx.expr("Inf + NaN").variables == ("Inf", "NaN")
    with pytest.raises(ParseError, match="is a number, not a function"):
        pdx.expr("inf(x)")


def test_unicode_and_latex_of_non_finite_numbers():
    f = pdx.expr("x/0 - 1/0")
    assert str(f) == "inf*x - inf"
    assert f.unicode() == "∞⋅x − ∞"
    assert f.latex() == r"\infty x - \infty"
    assert pdx.expr("-x/0").unicode() == "−∞⋅x"
    assert pdx.expr("0/0").latex() == r"\text{NaN}"
    assert pdx.expr("0/0").unicode() == "nan"
