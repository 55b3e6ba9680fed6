"""Formulas (API.md section 1, TESTING.md section 5): the seed examples exactly,
resource limits, conventions shared with the engine, printing, compile(),
explain() and equals()/compare().

The large random sweep against SymPy and the complex step is test_formula_random.py.
"""
from __future__ import annotations

import keyword
import time
import tokenize
import io
import warnings

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import partiald as pdx
import partiald.numpy as pnp
from partiald import Expr, ExpressionTooLarge, ParseError, expr
from partiald.symbolic.canonical import count_nodes


def rel(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.abs(a - b) / np.maximum(1.0, np.abs(b))


def same_or_both_nan(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


# ================================================================================================
# The seed examples, exactly
# ================================================================================================

def test_seed_first_partial():
    assert str(expr("x^2 + x*y + y^2").diff("x")) == "2*x + y"


def test_seed_partials_of_x2_plus_3xy():
    f = expr("x^2 + 3*x*y")
    assert f.variables == ("x", "y")
    assert str(f.diff("x")) == "2*x + 3*y"
    assert str(f.diff("y")) == "3*x"
    assert isinstance(f.diff("x", "y"), Expr)
    assert f.diff("x", "y") == 3
    assert str(f.diff("x", "y")) == "3"
    assert f.diff("x", n=3) == 0
    assert str(f.diff("x", n=3)) == "0"
    assert f.diff("x", n=2) == 2
    assert f.diff("x", n=0) == f


def test_seed_gradient():
    g = expr("x^2*y + z").gradient()
    assert isinstance(g, tuple) and all(isinstance(d, Expr) for d in g)
    assert tuple(str(d) for d in g) == ("2*x*y", "x^2", "1")


def test_seed_hessian():
    H = expr("x^2 + 3*x*y").hessian()
    assert tuple(tuple(str(h) for h in row) for row in H) == (("2", "3"), ("3", "0"))
    H = expr("x^3*y + y^2*z").hessian()
    assert len(H) == 3 and all(len(r) == 3 for r in H)
    for i in range(3):
        for j in range(3):
            assert H[i][j] == H[j][i]
    assert str(H[0][0]) == "6*x*y" and str(H[0][1]) == "3*x^2" and str(H[1][2]) == "2*y"


def test_seed_values_and_broadcasting():
    f = expr("x^2 + 3*x*y")
    v = f(x=1, y=2)
    assert v == 7.0 and isinstance(v, float)
    out = f(x=np.arange(3), y=2.0)
    assert isinstance(out, np.ndarray) and out.shape == (3,)
    np.testing.assert_array_equal(out, [0.0, 7.0, 16.0])
    assert f(np.arange(3), np.ones((2, 1))).shape == (2, 3)
    assert f(1, 2) == 7.0                                  # positional, in variables order


def test_seed_latex():
    assert expr("x^2 + 3*x*y").latex() == "x^{2} + 3 x y"


def test_seed_explain():
    f = expr("x^2 + 3*x*y")
    text = str(f.explain("x"))
    assert text.endswith(str(f.diff("x")))
    assert text.splitlines()[-1] == "result: 2*x + 3*y"
    assert "power rule" in text
    assert "constant multiple" in text
    line = next(ln for ln in text.splitlines() if "constant multiple" in ln)
    assert "y held constant" in line and "3*x*y" in line and "= 3*y" in line
    line = next(ln for ln in text.splitlines() if "power rule" in ln)
    assert "x^2" in line and "= 2*x" in line


def test_seed_compile_broadcasts_constants():
    g = expr("3*x").diff("x").compile()
    out = g(np.arange(5))
    assert out.shape == (5,)
    np.testing.assert_array_equal(out, 3.0)
    assert expr("x^2 + 3*x*y").diff("x").compile()(np.arange(4.0), np.ones((3, 1))).shape == (3, 4)
    assert expr("7").compile()() == 7.0


def test_seed_equals():
    f = expr("2*x + 3*y")
    assert f.equals("x*(2 + 3*y/x)") is True
    assert f.equals("2*x + 3") is False
    assert f.equals("2*x + 3*y + 1e-3") is False
    assert f.equals(expr("3*y + 2*x")) is True


def test_seed_lambda():
    f = expr(lambda x, y: x**2 + 3 * x * y)
    assert f.diff("x") == expr("2*x + 3*y")
    assert f == expr("x^2 + 3*x*y")
    assert f.variables == ("x", "y")


def test_lambda_with_partiald_numpy_functions():
    f = expr(lambda x, y: pnp.exp(x) * pnp.sin(y) / (1 + x**2))
    assert f == expr("exp(x)*sin(y)/(1 + x^2)")
    g = expr(lambda x, y: pdx.nn.sigmoid(x * y) + pnp.sqrt(1 + x**2))
    assert g == expr("sigmoid(x*y) + sqrt(1 + x^2)")


# ================================================================================================
# API details around the seeds
# ================================================================================================

def test_variables_sorted_and_diff_keeps_them():
    f = expr("z*y + x^2")
    assert f.variables == ("x", "y", "z")
    d = f.diff("x")
    assert str(d) == "2*x" and d.variables == ("x", "y", "z")
    assert d.compile()(1.0, 5.0, 7.0) == 2.0


def test_diff_argument_errors():
    f = expr("x^2 + 3*x*y")
    with pytest.raises(TypeError):
        f.diff()
    with pytest.raises(ValueError):
        f.diff("x", n=-1)
    with pytest.raises(ValueError):
        f.diff("x", n=1.5)
    with pytest.raises(TypeError):
        f.diff(1)
    assert expr("x^3").diff() == expr("3*x^2")     # one variable: no name needed


def test_call_errors_name_the_variables():
    f = expr("x^2 + 3*x*y")
    with pytest.raises(TypeError, match="y"):
        f(x=1)
    with pytest.raises(TypeError, match="z"):
        f(x=1, y=2, z=3)
    with pytest.raises(TypeError):
        f.compile()(1.0)
    with pytest.raises(TypeError, match="x"):
        float(f)


def test_numbers_and_exprs_compare():
    assert expr("2*3") == 6
    assert expr("1/2") == 0.5
    assert expr("x") != expr("y")
    assert expr(5) == 5 and str(expr(2.5)) == "5/2"
    assert float(expr("3/4")) == 0.75
    assert hash(expr("x + y")) == hash(expr("y + x"))


def test_compare_gives_verdict_and_detail():
    ok, detail = expr("2*x + 3*y").compare("x*(2 + 3*y/x)")
    assert ok is True and isinstance(detail, str)
    bad, detail = expr("2*x + 3*y").compare("2*x + 3")
    assert bad is False and "x" in detail and "y" in detail      # names a point where they differ
    undecided, detail = expr("sqrt(-1 - x^2)").compare("x")
    assert undecided is None and "undecided" in detail
    assert expr("sqrt(-1 - x^2)").equals("x") is False           # equals() is True only when decided


def test_subs():
    f = expr("x^2*y + z")
    g = f.subs(y=2)
    assert g == expr("2*x^2 + z") and g.variables == ("x", "z")


# ================================================================================================
# Resource limits and speed
# ================================================================================================

def _warm():
    expr("cos(q)*q^2").diff("q", n=3).compile()(1.0)


def test_hundredth_derivative_of_sin_is_fast():
    _warm()
    t = time.perf_counter()
    d = expr("sin(x)").diff("x", n=100)
    elapsed = time.perf_counter() - t
    assert d == expr("sin(x)")
    assert elapsed < 0.1, f"{elapsed:.3f} s"
    assert expr("sin(x)").diff("x", n=101) == expr("cos(x)")
    assert expr("sin(x)").diff("x", n=102) == expr("-sin(x)")


def test_order_limit():
    assert expr("sin(x)").diff("x", n=1000) == expr("sin(x)")
    with pytest.raises(ExpressionTooLarge):
        expr("sin(x)").diff("x", n=1001)
    with pytest.raises(ExpressionTooLarge):
        expr("x*y").diff("x", "y", n=501)
    with pytest.raises(ExpressionTooLarge):
        expr("x^2").diff(*["x"] * 1001)
    assert issubclass(ExpressionTooLarge, ValueError)


def test_huge_order_is_refused_before_any_work():
    with pytest.raises(ExpressionTooLarge):
        expr("x^2").diff("x", n=10**12)


def _nested_sin(depth):
    s = "x"
    for _ in range(depth):
        s = f"sin(x + {s})"
    return s


def test_nested_sin_derivative_is_linear_in_depth():
    counts = {}
    for depth in (10, 20, 30):
        f = expr(_nested_sin(depth))
        t = time.perf_counter()
        d = f.diff("x")
        text = str(d)
        elapsed = time.perf_counter() - t
        assert elapsed < 1.0, f"depth {depth}: {elapsed:.3f} s"
        assert text.count("sin(") >= depth and text.count("cos(") >= depth
        counts[depth] = count_nodes(d.node)
        assert counts[depth] <= 6 * depth + 20, counts
    # exactly linear: each level adds the same number of nodes
    assert counts[30] - counts[20] == counts[20] - counts[10], counts
    # the value agrees with the engine's AD of the same function
    fn = lambda x: _nested_sin_pnp(x, 30)
    assert rel(expr(_nested_sin(30)).diff("x")(x=0.37), pdx.grad(fn)(0.37)) <= 1e-12


def _nested_sin_pnp(x, depth):
    s = x
    for _ in range(depth):
        s = pnp.sin(x + s)
    return s


BOMBS = ["9^9^9^9", "((9^9)^9999)^9999", "2^(2^64)", "x^(10^30)", "x^(10^30) + y", "9^9^9^9*x",
         "x^9^9^9", "(1 + x)^99999999", "2^(2^64)*x", "10^(10^10)", "x^(2^64)"]


@pytest.mark.parametrize("text", BOMBS)
def test_resource_bombs_answer_or_refuse_quickly(text):
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            f = expr(text)
            str(f)
            f.latex()
            vals = {v: 0.5 for v in f.variables}
            f(**vals)
            for v in f.variables:
                try:
                    d = f.diff(v)
                    str(d)
                    d(**vals)
                except ExpressionTooLarge:
                    pass
        except ExpressionTooLarge:
            pass
    elapsed = time.perf_counter() - t
    assert elapsed < 1.0, f"{text}: {elapsed:.3f} s"


def test_huge_numbers_stay_exact_in_the_formula():
    assert str(expr("2^(2^64)")) == "2^18446744073709551616"
    assert str(expr("x^(10^30)")) == "x^1000000000000000000000000000000"
    assert expr("9^9^9^9") == expr("9^(9^(9^9))")


def test_overlong_text_raises_expression_too_large_quickly():
    # about 1.9 million characters: over the parser's MAX_TEXT (1,000,000)
    text = " + ".join(f"x^{k}" for k in range(1, 250_001))
    t = time.perf_counter()
    with pytest.raises(ExpressionTooLarge):
        expr(text)
    assert time.perf_counter() - t < 10.0


# ================================================================================================
# Conventions shared with the engine
# ================================================================================================

SPECIAL_POINTS = np.array([0.0, -0.0, 1e-300, -1e-300, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5, 30.0, -30.0,
                           1e4, -1e4])

# formula function -> the same function for the engine
ENGINE = {
    "abs": pnp.abs, "relu": pdx.nn.relu, "sigmoid": pdx.nn.sigmoid, "softplus": pdx.nn.softplus,
    "sqrt": pnp.sqrt, "log": pnp.log, "tanh": pnp.tanh, "exp": pnp.exp, "sin": pnp.sin, "cos": pnp.cos,
    "tan": pnp.tan, "asin": pnp.arcsin, "acos": pnp.arccos, "atan": pnp.arctan, "sinh": pnp.sinh,
    "cosh": pnp.cosh,
}


def test_abs_derivative_is_sign_with_zero_at_zero():
    d = expr("abs(x)").diff("x")
    assert d == expr("sign(x)")
    assert d.compile()(0.0) == 0.0 and d(x=-0.0) == 0.0
    assert pdx.grad(pnp.abs)(0.0) == 0.0
    np.testing.assert_array_equal(d.compile()(np.array([-2.0, 0.0, 3.0])), [-1.0, 0.0, 1.0])
    assert expr("abs(x)").diff("x", n=2) == 0


def test_relu_derivative_is_a_step_with_zero_at_zero():
    d = expr("relu(x)").diff("x")
    assert d == expr("step(x)")
    assert d(x=0.0) == 0.0 and d(x=-0.0) == 0.0 and d(x=1e-300) == 1.0 and d(x=-3.0) == 0.0
    assert pdx.grad(pdx.nn.relu)(0.0) == 0.0
    assert expr("relu(x)").diff("x", n=2) == 0


@pytest.mark.parametrize("text, expected", [
    ("sigmoid(x)", "sigmoid(x)*(1 - sigmoid(x))"),
    ("softplus(x)", "sigmoid(x)"),
    ("sqrt(x)", "1/(2*sqrt(x))"),
    ("log(x)", "1/x"),
    ("tanh(x)", "1 - tanh(x)^2"),
    ("exp(x)", "exp(x)"),
    ("atan(x)", "1/(1 + x^2)"),
    ("asin(x)", "1/sqrt(1 - x^2)"),
    ("acos(x)", "-1/sqrt(1 - x^2)"),
    ("tan(x)", "1 + tan(x)^2"),
    ("sinh(x)", "cosh(x)"),
    ("cosh(x)", "sinh(x)"),
])
def test_derivative_of_each_function(text, expected):
    assert expr(text).diff("x") == expr(expected)


@pytest.mark.parametrize("name", sorted(ENGINE))
def test_symbolic_derivative_matches_engine_on_the_domain(name):
    """f.diff compiled vs pdx.grad of the same function: exact at the special points
    (the conventions), rel 1e-12 elsewhere, wherever the function is defined."""
    d = expr(f"{name}(x)").diff("x").compile()
    pts = SPECIAL_POINTS
    if name in ("sqrt", "log"):
        pts = pts[pts >= 0]
    if name in ("asin", "acos"):
        pts = pts[np.abs(pts) < 1]
    if name in ("exp", "sinh", "cosh"):
        pts = pts[np.abs(pts) < 700]
    sym = d(pts)
    ad = np.array([pdx.grad(ENGINE[name])(float(p)) for p in pts])
    ok = (sym == ad) | (np.isnan(sym) & np.isnan(ad)) | (rel(sym, ad) <= 1e-12)
    assert ok.all(), list(zip(pts[~ok], sym[~ok], ad[~ok]))
    # at 0 (the kinks and the domain edges) the values are equal exactly
    zero = np.array([0.0])
    assert same_or_both_nan(d(zero), [pdx.grad(ENGINE[name])(0.0)]), name


@pytest.mark.xfail(strict=True, reason="engine/formula convention mismatch: the formula derivative of log "
                   "is 1/x, finite outside the domain (x < 0), while pdx.grad(pnp.log) gives NaN there")
def test_log_derivative_outside_the_domain_matches_engine():
    d = expr("log(x)").diff("x")
    assert same_or_both_nan(d(x=-1.0), pdx.grad(pnp.log)(-1.0))


def test_sqrt_and_log_derivatives_at_domain_edges():
    assert expr("sqrt(x)").diff("x")(x=0.0) == np.inf == pdx.grad(pnp.sqrt)(0.0)
    assert expr("log(x)").diff("x")(x=0.0) == np.inf == pdx.grad(pnp.log)(0.0)
    assert np.isnan(expr("sqrt(x)").diff("x")(x=-1.0)) and np.isnan(pdx.grad(pnp.sqrt)(-1.0))


# formulas with the same function written for the engine
NAMED = {
    "exp(x*y)*sin(x + y^2)/(1 + x^2)": lambda x, y: pnp.exp(x * y) * pnp.sin(x + y**2) / (1 + x**2),
    "sqrt(1 + x^2)*log(1 + y^2)": lambda x, y: pnp.sqrt(1 + x**2) * pnp.log(1 + y**2),
    "tanh(x - y)^3 + sigmoid(x*y)": lambda x, y: pnp.tanh(x - y) ** 3 + pdx.nn.sigmoid(x * y),
    "softplus(x) + atan(x*y)": lambda x, y: pdx.nn.softplus(x) + pnp.arctan(x * y),
    "(1 + x^2)^(3/2)/(1 + y^2)": lambda x, y: (1 + x**2) ** 1.5 / (1 + y**2),
    "cosh(x)*sinh(y) - tan(x*y/4)": lambda x, y: pnp.cosh(x) * pnp.sinh(y) - pnp.tan(x * y / 4),
    "abs(x - y) + relu(x*y)": lambda x, y: pnp.abs(x - y) + pdx.nn.relu(x * y),
    "x^y": lambda x, y: x**y,
}


@pytest.mark.parametrize("text", sorted(NAMED))
def test_symbolic_gradient_and_hessian_match_ad(text):
    f = expr(text)
    fn = NAMED[text]
    rng = np.random.default_rng(0)
    for _ in range(5):
        p = (float(rng.uniform(0.1, 1.5)), float(rng.uniform(-1.5, 1.5)))
        g = [d(*p) for d in f.gradient()]
        ga = pdx.grad(fn, argnums=(0, 1))(*p)
        assert np.all(rel(g, ga) <= 1e-12), (p, g, ga)
        # AD of the formula's own Graph: one IR, the same rules
        gg = pdx.grad(lambda x, y: pdx.interpret(f.graph, x, y)[0], argnums=(0, 1))(*p)
        assert np.all(rel(g, gg) <= 1e-12)
        H = np.array([[h(*p) for h in row] for row in f.hessian()])
        Ha = pdx.hessian(lambda v: fn(v[0], v[1]))(np.array(p))
        assert np.all(rel(H, Ha) <= 1e-12), (p, H, Ha)


def test_grad_of_compiled_formula():
    f = expr("x^2 + 3*x*y")
    assert pdx.grad(f.compile(), argnums=(0, 1))(1.0, 2.0) == (8.0, 3.0)


# ================================================================================================
# Printing
# ================================================================================================

TEXT_GOLDENS = [
    ("x*x", "x^2"),
    ("x^2*x^3", "x^5"),
    ("(x^2)^3", "x^6"),
    ("x + -2*y", "x - 2*y"),
    ("x - 2*y", "x - 2*y"),
    ("2*(x + y)", "2*x + 2*y"),
    ("x*1 + 0", "x"),
    ("x^1", "x"),
    ("1*x^1*1 + 0*y", "x"),
    ("y*x*3", "3*x*y"),
    ("x + x + x", "3*x"),
    ("3*x - x", "2*x"),
    ("x*y - y*x", "0"),
    ("z + y + x", "x + y + z"),
    ("1 + x + x^3 + x^2", "x^3 + x^2 + x + 1"),
    ("x^2*y + x*y^2 + 1", "x^2*y + x*y^2 + 1"),
    ("1 - x^2", "1 - x^2"),
    ("-x^2", "-x^2"),
    ("-(x - y)", "-x + y"),
    ("0.5*x", "x/2"),
    ("1e-3*x", "x/1000"),
    ("2*x/3", "2*x/3"),
    ("x/y", "x/y"),
    ("x/(2*y)", "x/(2*y)"),
    ("1/(1 + x^2)", "1/(x^2 + 1)"),
    ("x^-2", "1/x^2"),
    ("sqrt(x)", "sqrt(x)"),
    ("x^(1/2)", "sqrt(x)"),
    ("x^(-1/2)", "1/sqrt(x)"),
    ("x^(3/2)", "x^(3/2)"),
    ("(x + 1)^2", "(x + 1)^2"),
    ("e^x", "exp(x)"),
    ("ln(x)", "log(x)"),
    ("exp(x)*cos(x)", "exp(x)*cos(x)"),
    ("-x/(y + 1)", "-x/(y + 1)"),
    ("2^4", "16"),
    ("alpha*beta + theta_2", "alpha*beta + theta_2"),
]


@pytest.mark.parametrize("text, expected", TEXT_GOLDENS)
def test_canonical_text(text, expected):
    f = expr(text)
    assert str(f) == expected
    assert expr(str(f)) == f
    assert repr(f) == f"Expr('{expected}')"


def test_printed_text_follows_the_canonical_rules():
    for text in ["x + 0", "1*x", "x^1", "x + -y", "x*x*y*y", "2*3*x"]:
        s = str(expr(text))
        assert "+ 0" not in s and "*1" not in s and "^1" not in s and "+ -" not in s and "1*" not in s


UNICODE_GOLDENS = [
    ("x^2 + 3*x*y", "x² + 3x⋅y"),
    ("2*x + 3*y", "2x + 3y"),
    ("x - 2*y", "x − 2y"),
    ("x^3 + x^2", "x³ + x²"),
    ("sqrt(x)", "√x"),
    ("sqrt(1 + x^2)", "√(x² + 1)"),
    ("pi*x", "π⋅x"),
    ("-(x - y)", "−x + y"),
]


@pytest.mark.parametrize("text, expected", UNICODE_GOLDENS)
def test_unicode(text, expected):
    assert expr(text).unicode() == expected


def test_unicode_minus_is_consistent():
    assert expr("-x^2").unicode() == "−x²"


LATEX_GOLDENS = [
    ("x^2 + 3*x*y", "x^{2} + 3 x y"),
    ("2*x + 3*y", "2 x + 3 y"),
    ("x/y", r"\frac{x}{y}"),
    ("1/(1 + x^2)", r"\frac{1}{x^{2} + 1}"),
    ("sqrt(x)", r"\sqrt{x}"),
    ("x^(3/2)", r"x^{\frac{3}{2}}"),
    ("sin(x)", r"\sin{\left(x \right)}"),
    ("(x + 1)^2", r"\left(x + 1\right)^{2}"),
    ("-x/(y + 1)", r"-\frac{x}{y + 1}"),
    ("abs(x)", r"\left|x\right|"),
    ("alpha*beta", r"\alpha \beta"),
    ("theta_2 + w1", r"\theta_{2} + w_{1}"),
    ("x/2", r"\frac{x}{2}"),
    ("pi*x", r"\pi x"),
]


@pytest.mark.parametrize("text, expected", LATEX_GOLDENS)
def test_latex(text, expected):
    assert expr(text).latex() == expected


def test_repr_latex():
    f = expr("x^2 + 3*x*y")
    assert f._repr_latex_() == "$x^{2} + 3 x y$"
    assert f.diff("x")._repr_latex_() == "$2 x + 3 y$"


def _balanced(s):
    depth = 0
    for ch in s:
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            return False
    return depth == 0


PRINT_SAMPLES = [t for t, _ in TEXT_GOLDENS] + list(NAMED) + [
    "exp(x*y)*sin(x + y^2)/(1 + x^2)", "sigmoid(x)*(1 - sigmoid(x))", "x^y", "2^x", "pi*x^2 + e",
    "asin(x) + acos(y) + atan(x*y)", "log(1 + x^2)^3", "tanh(x)^2", "abs(x) + relu(y) + softplus(x*y)",
    "1/2 + 3/x^3", "(x - 1)*(x + 1)", "x^(y + 1)", "cos(x)^(-3/2)",
]
PRINT_SAMPLES = list(dict.fromkeys(PRINT_SAMPLES))


@pytest.mark.parametrize("text", PRINT_SAMPLES)
def test_everything_printed_reparses(text):
    """str() of a formula, of its derivatives and of its second partials reads back to an equal
    Expr; unicode() and latex() are well formed."""
    f = expr(text)
    items = [f] + list(f.gradient()) + [h for row in f.hessian() for h in row]
    for g in items:
        s = str(g)
        assert expr(s) == g, (text, s, str(expr(s)))
        u = g.unicode()
        assert "**" not in u and "*" not in u
        latex = g.latex()
        assert _balanced(latex), latex
        assert "*" not in latex


def test_unicode_has_superscripts():
    d = expr("x^3*y").diff("x")
    assert "²" in d.unicode() and "^" not in d.unicode()
    assert expr("x^3").unicode() == "x³"
    assert expr("1/x^2").unicode() == "1/x²"
    assert expr("x^12").unicode() == "x¹²"


_SYMPY_POLY = st.lists(
    st.tuples(st.integers(-5, 5).filter(bool), st.sampled_from([1, 1, 1, 2, 3]),
              st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
    min_size=1, max_size=5)


@given(_SYMPY_POLY)
def test_polynomials_print_like_sympy(terms):
    """Terms ordered like SymPy's default; coefficients first; rationals as a/b."""
    sp = pytest.importorskip("sympy")
    x, y, z = sp.symbols("x y z")
    e = sum(sp.Rational(c, d) * x**a * y**b * z**k for c, d, a, b, k in terms)
    if not e.free_symbols:
        return
    s = str(e).replace("**", "^")
    # known, minor: SymPy puts the constant last in "c - <multivariate monomial>"
    # (test_two_term_constant_order_like_sympy below)
    if isinstance(e, sp.Add) and len(e.args) == 2 and any(a.is_number for a in e.args):
        mono = next(a for a in e.args if not a.is_number)
        if len(mono.free_symbols) > 1:
            return
    note(s)
    assert str(expr(s)) == s


def test_two_term_constant_order_like_sympy():
    assert str(expr("1 - x*y")) == "-x*y + 1"


# ================================================================================================
# Exactness of constants in derivatives (API.md: exact partial derivatives)
# ================================================================================================

EXACT_DERIVATIVES = [
    ("x/3", "x", "1/3"),
    ("x^3/3", "x", "x^2"),
    ("(2/3)*x^3", "x", "2*x^2"),
    ("x^(1/3)", "x", "1/(3*x^(2/3))"),
    ("x^(3/7)", "x", "3/(7*x^(4/7))"),
    ("exp(x/7)", "x", "exp(x/7)/7"),
    ("sin(pi*x)", "x", "pi*cos(pi*x)"),
    ("pi*x^2", "x", "2*pi*x"),
    ("x^pi", "x", "pi*x^(pi - 1)"),
    ("2^x", "x", "log(2)*2^x"),
    ("cos(3/2)*x", "x", "cos(3/2)"),
    ("sqrt(2)*x", "x", "sqrt(2)"),
    ("7^(1/3)*x^2", "x", "2*7^(1/3)*x"),
    ("x*2^(2^64)", "x", "2^(2^64)"),
    ("x*10^30", "x", "10^30"),
]


@pytest.mark.parametrize("text, var, expected", EXACT_DERIVATIVES)
def test_derivative_constants_stay_exact(text, var, expected):
    assert expr(text).diff(var) == expr(expected)


EXACT_DERIVATIVES_HUGE = [
    ("x^(2^64)", "x", "2^64*x^(2^64 - 1)"),
    ("10^400*x", "x", "10^400"),
    ("x/10^400", "x", "1/10^400"),
    ("x^(1/12345)", "x", "1/(12345*x^(12344/12345))"),
]


@pytest.mark.parametrize("text, var, expected", EXACT_DERIVATIVES_HUGE)
def test_derivative_constants_stay_exact_for_huge_and_odd_numbers(text, var, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert expr(text).diff(var) == expr(expected)


def test_exact_derivatives_that_already_hold():
    assert expr("x^2 + 3*x*y").diff("x") == expr("2*x + 3*y")
    assert expr("e^(2*x)").diff("x") == expr("2*exp(2*x)")
    assert expr("x/2").diff("x") == expr("1/2")
    assert expr("x^(1e20)").diff("x") == expr("10^20*x^(10^20 - 1)")


# ================================================================================================
# compile(): generated code
# ================================================================================================

HOSTILE_NAMES = ["import_", "os", "exec_", "eval", "lambda", "print", "sys", "np", "numpy", "class_",
                 "self_", "args", "out", "f", "x0", "None", "True", "if", "in", "open", "globals"]


def _identifiers(source):
    """The names a generated source refers to (attribute names after '.' excluded)."""
    out, prev = set(), None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and not (prev is not None and prev.type == tokenize.OP and prev.string == "."):
            out.add(tok.string)
        prev = tok
    return out


def test_hostile_names_are_rejected_by_the_parser():
    for text in ["__class__", "__import__('os')", "_x", "a__b", "x.__class__"]:
        with pytest.raises(ParseError):
            expr(text)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_generated_source_uses_only_internal_identifiers(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = expr(f"{name}^2*exp(y) + sin({name})*y + sigmoid({name} - y)/(1 + y^2)")
    assert f.variables == tuple(sorted((name, "y")))
    for g in (f,) + f.gradient():
        src = g.compile().source
        idents = _identifiers(src)
        assert name not in idents, src
        # everything is a Python keyword of the template or an internal (underscore) name
        assert all(keyword.iskeyword(i) or i.startswith("_") for i in idents), sorted(idents)
    # and it computes the right thing
    point = {name: 0.3, "y": -0.4}
    expected = 2 * 0.3 * np.exp(-0.4) + np.cos(0.3) * -0.4 + (
        1 / (1 + np.exp(-0.7))) * (1 - 1 / (1 + np.exp(-0.7))) / (1 + 0.16)
    d = f.diff(name)
    args = [point[v] for v in d.variables]
    assert rel(d.compile()(*args), expected) <= 1e-12


def test_variable_named_self_can_be_evaluated_by_name():
    assert expr("self^2 + y")(self=3.0, y=1.0) == 10.0


def test_compile_matches_call_and_numpy():
    f = expr("exp(x*y)*sin(x + y^2)/(1 + x^2)")
    c = f.compile()
    x = np.linspace(-1, 1, 7)
    y = np.linspace(0.5, -2, 7)
    ref = np.exp(x * y) * np.sin(x + y**2) / (1 + x**2)
    assert np.all(rel(c(x, y), ref) <= 1e-14)
    assert np.all(rel(f(x=x, y=y), ref) <= 1e-14)
    assert c.variables == ("x", "y")
    assert isinstance(c(0.1, 0.2), float)


def test_compiled_values_outside_the_domain_are_nan_not_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no RuntimeWarning leaks out either
        assert np.isnan(expr("log(x)")(x=-1.0))
        assert np.isnan(expr("sqrt(x)").diff("x")(x=-1.0))
        assert expr("1/x")(x=0.0) == np.inf


# ================================================================================================
# explain()
# ================================================================================================

STEP_KEYS = {"index", "depth", "expr", "derivative", "rule", "held_constant", "note"}


@pytest.mark.parametrize("text, var", [
    ("x^2 + 3*x*y", "x"), ("x^2 + 3*x*y", "y"), ("exp(x*y)*sin(x + y^2)/(1 + x^2)", "y"),
    ("sqrt(1 + x^2)*log(x)", "x"), ("x^y", "y"), ("abs(x) + relu(x)", "x"), ("5", "x"), ("y", "x"),
    ("sigmoid(x*y) + tanh(y)^2", "y"), ("atan(x)/x", "x"),
])
def test_explain_steps(text, var):
    f = expr(text)
    e = f.explain(var)
    steps = e.steps
    assert isinstance(steps, list) and steps
    for i, s in enumerate(steps, 1):
        assert isinstance(s, dict) and set(s) == STEP_KEYS, s.keys()
        assert s["index"] == i
        assert isinstance(s["depth"], int) and s["depth"] >= 0
        assert isinstance(s["rule"], str) and s["rule"]
        assert isinstance(s["held_constant"], list) and var not in s["held_constant"]
        assert s["note"] is None or isinstance(s["note"], str)
        # each step's derivative is the derivative of its subexpression
        sub = expr(s["expr"])
        assert str(sub.diff(var)) == s["derivative"], s
        assert set(s["held_constant"]) == set(sub.variables) - {var}
    assert steps[0]["depth"] == 0
    # the first step is the formula as typed, which reads back to the same formula
    assert expr(steps[0]["expr"]) == f and steps[0]["derivative"] == str(f.diff(var))
    text_out = str(e)
    assert text_out.splitlines()[-1] == f"result: {f.diff(var)}"
    assert text_out.endswith(str(f.diff(var)))
    assert e.to_list() == steps


def test_explain_domain_notes():
    notes = {s["note"] for s in expr("log(x)").explain("x").steps}
    assert any(n and "log" in n and "> 0" in n for n in notes), notes
    notes = [s["note"] for s in expr("sqrt(x)").explain("x").steps]
    assert any(n and ("u > 0" in n or "u >= 0" in n) for n in notes), notes
    text = str(expr("sqrt(x) + log(y)").explain("y"))
    assert "note:" in text and "log(u) is defined for u > 0" in text
    notes = [s["note"] for s in expr("x/y").explain("y").steps]
    assert any(n and "nonzero" in n for n in notes)


def test_explain_rule_names():
    text = str(expr("sin(x)*exp(x)").explain("x"))
    assert "product rule" in text
    text = str(expr("sin(x^2)").explain("x"))
    assert "chain rule" in text
    text = str(expr("x/(1 + x)").explain("x"))
    assert "quotient rule" in text or "product rule" in text
    with pytest.raises(TypeError):
        expr("x").explain(1)


# ================================================================================================
# Properties (Hypothesis; profiles from conftest.py)
# ================================================================================================

_ATOMS = st.sampled_from(["x", "y", "z", "1", "2", "3", "1/2", "pi"])


def _combine(children):
    return st.one_of(
        st.tuples(children, children).map(lambda t: f"({t[0]} + {t[1]})"),
        st.tuples(children, children).map(lambda t: f"({t[0]} - {t[1]})"),
        st.tuples(children, children).map(lambda t: f"({t[0]})*({t[1]})"),
        st.tuples(children, children).map(lambda t: f"({t[0]})/(1 + ({t[1]})^2)"),
        st.tuples(children, st.sampled_from(["2", "3", "(-1)", "(1/2)", "(3/2)"])).map(
            lambda t: f"(1 + ({t[0]})^2)^{t[1]}"),
        st.tuples(children, st.sampled_from(["2", "3"])).map(lambda t: f"({t[0]})^{t[1]}"),
        st.tuples(st.sampled_from(["sin", "cos", "exp", "tanh", "sigmoid", "atan"]), children).map(
            lambda t: f"{t[0]}({t[1]})"),
        children.map(lambda c: f"sqrt(1 + ({c})^2)"),
        children.map(lambda c: f"log(1 + ({c})^2)"),
    )


FORMULAS = st.recursive(_ATOMS, _combine, max_leaves=8)


@given(FORMULAS)
def test_property_round_trip_and_explain(text):
    note(text)
    f = expr(text)
    assert expr(str(f)) == f
    for v in f.variables:
        d = f.diff(v)
        note(f"d/d{v} = {d}")
        assert expr(str(d)) == d
        assert str(f.explain(v)).endswith("result: " + str(d))


@given(FORMULAS, st.sampled_from(["x", "y"]), st.sampled_from(["x", "y", "z"]))
def test_property_mixed_partials_commute(text, a, b):
    f = expr(text)
    ab, ba = f.diff(a, b), f.diff(b, a)
    assert ab == ba or ab.equals(ba)


@given(FORMULAS, FORMULAS)
def test_property_diff_is_linear(t1, t2):
    f, g = expr(t1), expr(t2)
    s = expr(f"({t1}) - 3*({t2})")
    for v in ("x", "y"):
        lhs = s.diff(v)
        rhs = expr(f"({f.diff(v)}) - 3*({g.diff(v)})")
        assert lhs == rhs or lhs.equals(rhs), (str(lhs), str(rhs))


def test_canonical_form_is_a_fixed_point_of_print_and_parse():
    f = expr("sqrt(1+z)*(a - sqrt(1+z))*w")
    assert expr(str(f)) == f
