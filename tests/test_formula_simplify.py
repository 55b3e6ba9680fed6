"""The simplifications the canonical constructors make (exp(a)*exp(b), 2^x*4^x,
sqrt(x^2), sin^2 + cos^2), each exact where the formula is defined, and the rules
that must not hide an inf or nan ((x + inf)/(x + inf) is nan, not 1)."""
import re

import numpy as np
import pytest
import sympy

import partiald as pdx
import partiald.numpy as pnp
from partiald.symbolic import canonical as C

_NS = {"log": np.log, "exp": np.exp, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos,
       "abs": np.abs, "tanh": np.tanh, "inf": np.inf, "nan": np.nan, "np": np}


def numpy_eval(text, **values):
    """``text`` evaluated by NumPy on float64 arrays ('^' as '**'): the unsimplified formula."""
    code = re.sub(r"(?<![A-Za-z_0-9.])(\d+(?:\.\d+)?)", r"np.array([\1], dtype=float)", text)
    code = code.replace("^", "**")
    env = {k: np.array([v], dtype=float) for k, v in values.items()}
    with np.errstate(all="ignore"):
        return float(np.asarray(eval(code, dict(_NS), env)).reshape(-1)[0])


def same(a, b, tol=1e-10):
    return (np.isnan(a) and np.isnan(b)) or a == b or abs(a - b) <= tol * max(1.0, abs(b))


def sympy_derivative(text, var):
    """SymPy's derivative of ``text`` (real symbols), as a NumPy function of the variables."""
    names = sorted(set(re.findall(r"\b[a-z]\b", text)))
    syms = {n: sympy.Symbol(n, real=True) for n in names}
    f = sympy.sympify(text.replace("^", "**"), locals={**syms, "abs": sympy.Abs})
    d = sympy.diff(f, syms[var])
    return names, sympy.lambdify([syms[n] for n in names], d, "numpy")


# text, its printed form, the variables' range (the points are drawn in it)
TABLE = [
    ("exp(x)*exp(-x)", "1", (-3, 3)),
    ("exp(x)/exp(x)", "1", (-3, 3)),
    ("exp(x)*exp(y)", "exp(x + y)", (-2, 2)),
    ("exp(x)/exp(y)", "exp(x - y)", (-2, 2)),
    ("exp(2*x)*exp(3*x)", "exp(5*x)", (-2, 2)),
    ("exp(x+1)*exp(1-x)", "exp(2)", (-2, 2)),
    ("exp(x)*exp(y)*sin(x)", "exp(x + y)*sin(x)", (-2, 2)),
    ("exp(x)^2*exp(-2*x)*y", "y", (-2, 2)),
    ("exp(x+y+z)^2*exp(w)", "exp(w)*exp(x + y + z)^2", (-1, 1)),   # exp(w + 2x + 2y + 2z) is larger
    ("exp(x+y+z)^2*exp(x)", "exp(3*x + 2*y + 2*z)", (-1, 1)),       # not larger: merged
    ("2^x*4^x", "8^x", (-3, 3)),
    ("2^x*3^x*y", "6^x*y", (-3, 3)),
    ("2^x*(1/2)^x + y", "y + 1", (-3, 3)),
    ("2^x*4^x*8^y", "8^(x + y)", (-2, 2)),
    ("sqrt(x^2)", "abs(x)", (-3, 3)),
    ("(x^2)^(1/2)", "abs(x)", (-3, 3)),
    ("(x^2)^(3/2)", "abs(x)^3", (-3, 3)),
    ("(x^2)^(-1/2)", "1/abs(x)", (-3, 3)),
    ("sqrt(4*x^2*y^4)", "2*y^2*abs(x)", (-3, 3)),
    ("sqrt(x^4)", "x^2", (-3, 3)),
    ("abs(x)^2", "x^2", (-3, 3)),
    ("log(exp(x))", "x", (-3, 3)),
    ("exp(log(x))", "x", (0.1, 3)),                 # where defined: x > 0
    ("sin(x)^2 + cos(x)^2", "1", (-3, 3)),
    ("3*sin(u)^2 + 3*cos(u)^2", "3", (-3, 3)),
    ("sin(x)^2 + y + cos(x)^2", "y + 1", (-3, 3)),
    ("y*sin(x)^2 + y*cos(x)^2 + x", "x + y", (-3, 3)),
    ("sin(x*y)^2 + cos(x*y)^2 - 1", "0", (-3, 3)),
    ("3*sin(x)^2 + 2*cos(x)^2", "sin(x)^2 + 2", (-3, 3)),
    ("-2*sin(x)^2 - 2*cos(x)^2 + x", "x - 2", (-3, 3)),
    ("sin(x)^2 + cos(y)^2", "cos(y)^2 + sin(x)^2", (-3, 3)),      # different arguments: kept
    ("sin(x)^2 - cos(x)^2", "-cos(x)^2 + sin(x)^2", (-3, 3)),     # opposite signs: kept
]


@pytest.mark.parametrize("text, printed, rng", TABLE, ids=[t for t, _, _ in TABLE])
def test_printed_form(text, printed, rng):
    f = pdx.expr(text)
    assert str(f) == printed
    assert pdx.expr(str(f)).node is f.node          # the printed text parses back to it


@pytest.mark.parametrize("text, printed, rng", TABLE, ids=[t for t, _, _ in TABLE])
def test_values_equal_the_unsimplified_text(text, printed, rng):
    f = pdx.expr(text)
    rs = np.random.default_rng(0)
    names = sorted(set(re.findall(r"\b[a-z]\b", text)))
    for _ in range(20):
        values = {n: float(rs.uniform(*rng)) for n in names}
        got = float(f(**{v: values[v] for v in f.variables}))
        want = numpy_eval(text, **values)
        assert same(got, want), (text, values, got, want)


@pytest.mark.parametrize("text, printed, rng", TABLE, ids=[t for t, _, _ in TABLE])
def test_derivatives_match_sympy(text, printed, rng):
    f = pdx.expr(text)
    rs = np.random.default_rng(1)
    names = sorted(set(re.findall(r"\b[a-z]\b", text)))
    for var in names:
        d = f.diff(var)
        order, ref = sympy_derivative(text, var)
        for _ in range(10):
            values = {n: float(rs.uniform(*rng)) for n in names}
            if any(abs(v) < 1e-3 for v in values.values()):
                continue        # abs and sign are not differentiable at 0
            got = float(d(**{v: values[v] for v in d.variables})) if d.variables else float(d)
            with np.errstate(all="ignore"):
                want = float(ref(*[values[n] for n in order]))
            assert same(got, want, 1e-8), (text, var, values, got, want)


def test_derivatives_come_out_simplified():
    assert str(pdx.expr("sqrt(x^2)").diff("x")) == "sign(x)"
    assert str(pdx.expr("exp(x)*exp(y)").diff("x")) == "exp(x + y)"
    assert str(pdx.expr("2^x*4^x").diff("x")) == "8^x*log(8)"
    assert str(pdx.expr("x*sin(y)^2 + x*cos(y)^2").diff("x")) == "1"
    assert str(pdx.expr("(x^2)^(3/2)").diff("x")) == "3*x^2*sign(x)"
    # d/dx (sin(x)^2) + d/dx (cos(x)^2) cancels too
    assert str(pdx.expr("sin(x)^2 + cos(x)^2 + x").diff("x")) == "1"


def test_sqrt_of_a_square_with_an_odd_or_negative_part_is_kept():
    # sqrt(x^2*y) = abs(x)*sqrt(y) would be nan at x = 0, y < 0, where the formula is 0
    assert str(pdx.expr("sqrt(x^2*y)")) == "sqrt(x^2*y)"
    assert str(pdx.expr("sqrt(x^3)")) == "sqrt(x^3)"
    assert np.isnan(pdx.expr("sqrt(-x^2)")(x=1.0))


# -- inf and nan: no cancellation hides them -------------------------------------------------------

POINTS = (-1.5, 0.0, 0.5, 2.0)

# text, printed form: values must be NumPy's value of the text at POINTS (y = 0.75)
NONFINITE = [
    ("(x+inf)/(x+inf)", "nan"),
    ("(x+inf)*(x+inf)^-1", "nan"),
    ("(x+inf)^2/(x+inf)", "nan"),
    ("(x+inf)^2*(x+inf)^3", "(x + inf)^5"),
    ("(x-inf)/(x-inf)", "nan"),
    ("y*(x+inf)/(x+inf)", "nan"),
    ("(x+inf)^2 - (x+inf)^2", "nan"),
    ("y*(x+inf) - y*(x+inf)", "nan"),
    ("1/(x+inf) - 1/(x+inf)", "0"),                    # 0 - 0
    ("1/(x+inf)", "1/(x + inf)"),
    ("0*(x+inf)^2", "nan"),
    ("(x+inf)^0", "1"),                                # NumPy: inf**0 is 1
    ("inf^0", "1"),
    ("exp(x+inf)", "inf"),
    ("exp(x-inf)", "0"),
    ("exp(x+inf)*exp(-x)", "inf*exp(-x)"),
    ("exp(x+inf) - exp(x+inf)", "nan"),
    ("0*exp(x+inf)", "nan"),
    ("sin(x+inf)", "nan"),
    ("log(x+inf)/log(x+inf)", "nan"),
    ("sqrt((x+inf)^2)", "inf"),
    ("(x+inf)*sin(y)^2 + (x+inf)*cos(y)^2", "cos(y)^2*(x + inf) + sin(y)^2*(x + inf)"),
    ("exp(inf*x)*exp(-inf*x)", "nan"),
    ("2^(inf*x)*(1/2)^(inf*x)", "(1/2)^(inf*x)*2^(inf*x)"),      # not 1: inf * 0 where x > 0
    ("x - x", "0"),
    ("sin(inf*x)/sin(inf*x)", "nan"),
    ("exp(inf*x)/exp(inf*x)", "nan"),
    ("sin(inf*x)^2 + cos(inf*x)^2", "cos(inf*x)^2 + sin(inf*x)^2"),     # nan, not 1
    ("(x+inf) - (x+inf)", "nan"),
    ("inf/inf", "nan"),
    ("0*inf", "nan"),
]


@pytest.mark.parametrize("text, printed", NONFINITE, ids=[t for t, _ in NONFINITE])
def test_nonfinite_values_match_numpy(text, printed):
    f = pdx.expr(text)
    assert str(f) == printed
    for x in POINTS:
        values = {"x": x, "y": 0.75}
        got = float(f(**{v: values[v] for v in f.variables}))
        want = numpy_eval(text, **values)
        assert same(got, want), (text, x, got, want)
    assert pdx.expr(str(f)).node is f.node


def test_a_bounded_function_of_an_infinite_argument_cancels():
    # tanh(+-inf) is +-1: finite, so x/x's generic reading holds (x = 0, inf*0, is the singular point)
    f = pdx.expr("tanh(inf*x)/tanh(inf*x)")
    assert str(f) == "1"
    for x in (-1.5, 0.5, 2.0):
        assert numpy_eval("tanh(inf*x)/tanh(inf*x)", x=x) == 1.0


def test_nonfinite_detection():
    x, inf = C.sym("x"), C.num(float("inf"))
    xi = C.add(x, inf)
    assert not C._nonfinite(x) and not C._nonfinite(C.mul(C.num(3), x))
    assert C._nonfinite(xi) and C._nonfinite(C.mul(inf, x)) and C._nonfinite(C.power(xi, C.num(2)))
    assert not C._nonfinite(C.power(xi, C.MINUS_ONE))            # 1/(x + inf) is 0
    assert not C._nonfinite(C.func("atan", xi))                  # pi/2
    assert C.mul(xi, C.power(xi, C.MINUS_ONE)) is C.NAN


# -- select (piecewise) with an infinite or nan branch ---------------------------------------------

WHERES = [
    (lambda x: pnp.where(x > 0, np.inf, 1.0), lambda x: np.where(x > 0, np.inf, 1.0)),
    (lambda x: pnp.where(x > 0, x, -np.inf), lambda x: np.where(x > 0, x, -np.inf)),
    (lambda x: pnp.where(x > 0, np.nan, x * x), lambda x: np.where(x > 0, np.nan, x * x)),
    (lambda x: pnp.where(x > 0, -np.inf, np.nan), lambda x: np.where(x > 0, -np.inf, np.nan)),
    (lambda x: pnp.where(x > 0, x + np.inf, x * x), lambda x: np.where(x > 0, x + np.inf, x * x)),
    (lambda x: pnp.where(x < 1, np.inf, -np.inf), lambda x: np.where(x < 1, np.inf, -np.inf)),
]


@pytest.mark.parametrize("i", range(len(WHERES)))
def test_select_with_an_infinite_branch_is_not_nan_where_the_other_is_chosen(i):
    fn, ref = WHERES[i]
    f = pdx.expr(fn)
    d = f.diff("x")
    g = pdx.grad(fn)
    for x in (-1.5, -0.25, 0.0, 0.5, 0.75, 2.0):
        got = float(f(x=x))
        with np.errstate(all="ignore"):
            want = float(ref(np.float64(x)))
        assert same(got, want), (i, x, got, want)
        dv = float(d(x=x)) if d.variables else float(d)
        with np.errstate(all="ignore"):
            gv = float(g(x))
        if np.isfinite(want):
            assert same(dv, gv), (i, x, dv, gv)
    assert pdx.expr(str(f)).node is f.node


# -- the builders take the same steps as add() and mul() ------------------------------------------

def test_builders_agree_with_the_constructors():
    x, y = C.sym("x"), C.sym("y")
    inf = C.num(float("inf"))
    xi = C.add(x, inf)
    sin2 = C.power(C.func("sin", x), C.num(2))
    cos2 = C.power(C.func("cos", x), C.num(2))
    chains = [
        [C.func("exp", x), y, C.func("exp", C.neg(x))],
        [C.func("exp", x), C.func("exp", y), x],
        [C.power(C.num(2), x), y, C.power(C.num(4), x)],
        [xi, y, C.power(xi, C.MINUS_ONE)],
        [C.power(xi, C.num(2)), x, C.power(xi, C.num(-2)), y],
    ]
    for ops in chains:
        b = C.ProductBuilder(ops[0])
        p = ops[0]
        for o in ops[1:]:
            b.mul(o)
            p = C.mul(p, o)
        assert b.node() is p, ops
    sums = [
        [sin2, y, cos2, C.neg(sin2)],
        [C.mul(C.num(3), sin2), x, C.mul(C.num(3), cos2)],
        [C.power(xi, C.num(2)), y, C.neg(C.power(xi, C.num(2))), C.power(xi, C.num(2))],
        [C.mul(y, xi), x, C.neg(C.mul(y, xi))],
    ]
    for ops in sums:
        b = C.SumBuilder(ops[0])
        s = ops[0]
        for o in ops[1:]:
            b.add(o)
            s = C.add(s, o)
        assert b.node() is s, ops
