"""The formula parser (API.md section 1 "Parsing rules", TESTING.md section 6).

Golden ASTs for precedence and associativity, error positions and hints, the injection corpus
with side-effect sentinels, limits and resource bombs with time limits, three fuzz campaigns
(all of Unicode, token soup, mutated grammar-generated formulas) under the exception contract,
and a differential check of grammar-generated formulas (expected AST and NumPy values, plus
SymPy as a second, independent oracle).

Campaign sizes follow TESTING.md section 6 for the ``ci`` profile, shrink under ``dev`` and grow
under ``nightly`` (HYPOTHESIS_PROFILE).
"""
import ast as pyast
import builtins
import gc
import math
import os
import pathlib
import random
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from partiald import ExpressionTooLarge, ParseError
from partiald.symbolic import parser as parser_module
from partiald.symbolic.parser import MAX_DEPTH, MAX_TEXT, NestingTooDeep, parse, split_hint

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")


def n_examples(ci, nightly):
    """Examples for one campaign: TESTING.md's CI figure, a twentieth under dev, the nightly figure."""
    return {"dev": max(10, ci // 20), "nightly": nightly}.get(PROFILE, ci)


def N(s):
    return ("num", s)


def V(s):
    return ("name", s)


def C(s):
    return ("const", s)


def add(*t):
    return ("add", t)


def mul(*t):
    return ("mul", t)


def neg(a):
    return ("neg", a)


def pw(a, b):
    return ("pow", a, b)


def div(a, b):
    return ("div", a, b)


def call(f, a):
    return ("call", f, a)


x, y, z = V("x"), V("y"), V("z")

# ---------------------------------------------------------------------------------------------
# Golden ASTs
# ---------------------------------------------------------------------------------------------
GOLDEN = [
    # atoms
    ("2", N("2")), ("0.5", N("0.5")), (".5", N(".5")), ("1e-3", N("1e-3")), ("2E+10", N("2E+10")),
    ("123456789012345678901234567890", N("123456789012345678901234567890")),
    ("x", x), ("w1", V("w1")), ("theta_2", V("theta_2")), ("alpha", V("alpha")), ("xy", V("xy")),
    ("pi", C("pi")), ("e", C("e")), ("E", V("E")), ("I", V("I")), ("S", V("S")), ("N", V("N")),
    ("beta", V("beta")), ("gamma", V("gamma")), ("lambda", V("lambda")), ("pi2", V("pi2")), ("ex", V("ex")),
    ("  x\t", x),
    # precedence and associativity
    ("-x^2", neg(pw(x, N("2")))),
    ("-x**2", neg(pw(x, N("2")))),
    ("2^3^2", pw(N("2"), pw(N("3"), N("2")))),
    ("2**3**2", pw(N("2"), pw(N("3"), N("2")))),
    ("(2^3)^2", pw(pw(N("2"), N("3")), N("2"))),
    ("x^-1", pw(x, neg(N("1")))),
    ("x**-1", pw(x, neg(N("1")))),
    ("x^-y^2", pw(x, neg(pw(y, N("2"))))),
    ("x^+2", pw(x, N("2"))),
    ("2^4", pw(N("2"), N("4"))),
    ("e^x", pw(C("e"), x)),
    ("-e^-x", neg(pw(C("e"), neg(x)))),
    ("(-x)^2", pw(neg(x), N("2"))),
    ("a + b - c + d", add(V("a"), V("b"), neg(V("c")), V("d"))),
    ("x - y", add(x, neg(y))),
    ("x - -y", add(x, neg(neg(y)))),
    ("x + -y", add(x, neg(y))),
    ("-x + y", add(neg(x), y)),
    ("(a + b) + c", add(add(V("a"), V("b")), V("c"))),
    ("a + (b + c)", add(V("a"), add(V("b"), V("c")))),
    ("a*b*c", mul(V("a"), V("b"), V("c"))),
    ("E*A*B", mul(V("E"), V("A"), V("B"))),
    ("lambda*x", mul(V("lambda"), x)),
    ("a/b/c", div(div(V("a"), V("b")), V("c"))),
    ("a*b/c", div(mul(V("a"), V("b")), V("c"))),
    ("a/b*c", mul(div(V("a"), V("b")), V("c"))),
    ("a*b/c*d", mul(div(mul(V("a"), V("b")), V("c")), V("d"))),
    ("a/(b*c)", div(V("a"), mul(V("b"), V("c")))),
    ("2*-3", mul(N("2"), neg(N("3")))),
    ("x/-y", div(x, neg(y))),
    ("-x*y", mul(neg(x), y)),
    ("-(x*y)", neg(mul(x, y))),
    ("1 + 2*x^2", add(N("1"), mul(N("2"), pw(x, N("2"))))),
    # unary signs
    ("+x", x), ("--x", x), ("---x", neg(x)), ("-+-x", x), ("+-+x", neg(x)), ("-(-x)", neg(neg(x))),
    # implicit multiplication
    ("3x", mul(N("3"), x)),
    ("3 x", mul(N("3"), x)),
    ("2(x+1)", mul(N("2"), add(x, N("1")))),
    ("(x+1)(x-1)", mul(add(x, N("1")), add(x, neg(N("1"))))),
    ("(x+1)y", mul(add(x, N("1")), y)),
    ("3sin(x)", mul(N("3"), call("sin", x))),
    ("2 sin(x)", mul(N("2"), call("sin", x))),
    ("sin(x)cos(x)", mul(call("sin", x), call("cos", x))),
    ("sin(x)(y)", mul(call("sin", x), y)),
    ("2pi", mul(N("2"), C("pi"))),
    ("2e", mul(N("2"), C("e"))),
    ("2e^x", mul(N("2"), pw(C("e"), x))),
    ("2x^2", mul(N("2"), pw(x, N("2")))),
    ("x^2y", mul(pw(x, N("2")), y)),
    ("1/2x", mul(div(N("1"), N("2")), x)),
    ("-2x", mul(neg(N("2")), x)),
    ("3x*y", mul(N("3"), x, y)),
    ("1e-3x", mul(N("1e-3"), x)),
    ("0x", mul(N("0"), x)),
    # functions
    ("ln(x)", call("log", x)),
    ("log(x)", call("log", x)),
    ("asin(x) + acos(x) + atan(x)", add(call("asin", x), call("acos", x), call("atan", x))),
    ("sin (x)", call("sin", x)),
    ("sin((x))", call("sin", x)),
    ("sqrt(x^2 + 1)", call("sqrt", add(pw(x, N("2")), N("1")))),
    ("exp(-x)", call("exp", neg(x))),
    ("-sin(x)^2", neg(pw(call("sin", x), N("2")))),
    ("sigmoid(x)*relu(y)*abs(z)*softplus(x)", mul(call("sigmoid", x), call("relu", y), call("abs", z),
                                                   call("softplus", x))),
    ("tanh(sinh(cosh(tan(x))))", call("tanh", call("sinh", call("cosh", call("tan", x))))),
    # redundant parentheses vanish
    ("((((x))))", x),
    ("((x)+1)*2", mul(add(x, N("1")), N("2"))),
    ("(((x + y)))", add(x, y)),
    # resource bombs stay trees
    ("9^9^9^9", pw(N("9"), pw(N("9"), pw(N("9"), N("9"))))),
    ("((9^9)^9999)^9999", pw(pw(pw(N("9"), N("9")), N("9999")), N("9999"))),
    ("2^(2^64)", pw(N("2"), pw(N("2"), N("64")))),
    ("x^(10^30)", pw(x, pw(N("10"), N("30")))),
    ("1e308*10", mul(N("1e308"), N("10"))),
]


@pytest.mark.parametrize("text, expected", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_ast(text, expected):
    assert parse(text) == expected


def test_chain_is_one_flat_node():
    tree = parse("a + b - c + d")
    assert tree[0] == "add" and len(tree[1]) == 4


def test_str_subclass_is_read_as_plain_text():
    class Tricky(str):
        def __getitem__(self, i):
            raise RuntimeError("must not be called")

        def __len__(self):
            return 0

        def __str__(self):
            return "boom"

    assert parse(Tricky("x + 1")) == add(x, N("1"))


@pytest.mark.parametrize("bad", [None, 1, 2.5, b"x", ["x"], ("x",)])
def test_non_str_is_a_type_error(bad):
    with pytest.raises(TypeError):
        parse(bad)


# ---------------------------------------------------------------------------------------------
# Errors: position, message, hint
# ---------------------------------------------------------------------------------------------
ERRORS = [
    # text, pos, message fragment, hint fragment (None: no hint required)
    ("", 0, "empty formula", None),
    ("   ", 3, "empty formula", None),
    ("x +", 3, "expected an operand after '+'", None),
    ("x + * y", 4, "expected an operand after '+', found '*'", None),
    ("* x", 0, "expected an operand before '*'", None),
    ("x ^", 3, "expected an operand after '^'", None),
    ("x^^2", 2, "expected an operand after '^'", "x^2"),
    ("x)", 1, "unbalanced ')'", None),
    ("(x + 1", 6, "missing ')' for '(' at column 1", None),
    ("((x+1)", 6, "missing ')' for '(' at column 1", None),
    ("2*(x", 4, "missing ')' for '(' at column 3", None),
    ("sin(x", 5, "missing ')' for 'sin(' at column 1", None),
    ("()", 1, "empty parentheses", None),
    ("sin x", 4, "function 'sin' needs parentheses", "sin(x)"),
    ("cos y", 4, "function 'cos' needs parentheses", "cos(y)"),
    ("sin", 3, "function 'sin' needs parentheses", "sin(x)"),
    ("sin + 1", 4, "function 'sin' needs parentheses", "sin(x)"),
    ("2*exp", 5, "function 'exp' needs parentheses", "exp(x)"),
    ("sin^2(x)", 3, "function 'sin' needs parentheses", "sin(x)^2"),
    ("sin(x, y)", 5, "exactly one argument", "sin(x)"),
    ("sin()", 4, "sin() needs an argument", "sin(x)"),
    ("x y", 2, "expected an operator between 'x' and 'y'", "x*y"),
    ("x  y", 3, "expected an operator between 'x' and 'y'", "x*y"),
    ("pi x", 3, "between 'pi' and 'x'", "pi*x"),
    ("x sin(y)", 2, "between 'x' and 'sin'", "x*sin(...)"),
    ("2 3", 2, "expected an operator between '2' and '3'", "2*3"),
    ("x 2", 2, "between 'x' and '2'", "x*2"),
    ("(x)2", 3, "expected an operator", "*2"),
    ("f(x)", 0, "'f' is not a function", "f*(...)"),
    ("x(y+1)", 0, "'x' is not a function", "x*(...)"),
    ("e(x)", 1, "'e' is a constant, not a function", "exp(...)"),
    ("arcsin(x)", 0, "'arcsin' is not a function", "asin(x)"),
    ("x$", 1, "unknown character '$'", None),
    ("²x", 0, "the exponent '²' has no base", "x²"),
    ("x^²", 2, "the exponent '²' has no base", None),
    ("sin²(x)", 3, "function 'sin' needs parentheses", "sin(x)^2"),
    ("ｘ + 1", 0, "FULLWIDTH LATIN SMALL LETTER X", "'x'"),
    ("\u0445 + 1", 0, "CYRILLIC SMALL LETTER HA", "'x'"),
    ("\u03c2 + 1", 0, "GREEK SMALL LETTER FINAL SIGMA", "sigma"),
    ("\u03b8x", 1, "expected an operator between 'theta' and 'x'", "theta*x"),
    ("\u221a-x", 1, "'√' needs a number, a name or parentheses", "√(x + 1)"),
    ("sinn(x)", 0, "'sinn' is not a function", "did you mean sin?"),
    ("sigmod(x)", 0, "'sigmod' is not a function", "did you mean sigmoid?"),
    ("f(1) = x", 2, "must list variable names", "f(x, y) = ..."),
    ("f(x, x) = x", 5, "lists 'x' twice", None),
    ("f(sin) = x", 2, "'sin' is not a variable name", None),
    ("x\u00a0+ 1", 1, "NO-BREAK SPACE", "ordinary space"),
    ("x\u202e + 1", 1, "bidirectional control character U+202E", None),
    ("x\u200b", 1, "U+200B", None),
    ("x\x00", 1, "null character", None),
    ("x\n+ 1", 1, "line breaks are not allowed", None),
    ("x\r\n+ 1", 1, "line breaks are not allowed", None),
    ("x\x07", 1, "control character U+0007", None),
    ("0x1f", 0, "hexadecimal", None),
    ("0b101", 0, "hexadecimal, binary and octal", None),
    ("1_000", 1, "digit separators", None),
    ("x.y", 1, "no attribute access", None),
    ("2.", 1, "expected a digit after the decimal point", "2.0"),
    ("1,5", 1, "unexpected ','", "1.5"),
    ("x__y", 1, "names may not contain '__'", None),
    ("__x", 0, "a name must start with a letter", None),
    ("|x|", 0, "'|' is not allowed", "abs(x)"),
    ("[x]", 0, "brackets are not allowed", "parentheses"),
    ("x = 1", 2, "not an equation", None),
    ("x % 2", 2, "remainder", None),
    ("\\frac{1}{x}", 0, "LaTeX", None),
]


@pytest.mark.parametrize("text, pos, message, hint", ERRORS, ids=[repr(e[0]) for e in ERRORS])
def test_error_position_message_and_hint(text, pos, message, hint):
    with pytest.raises(ParseError) as info:
        parse(text)
    err = info.value
    check_parse_error(err, text)
    assert err.pos == pos, str(err)
    assert message in str(err).split("\n")[0], str(err)
    if hint is not None:
        assert err.hint is not None and hint in err.hint, str(err)
        assert f"hint: {err.hint}" in str(err)


def test_error_message_layout():
    with pytest.raises(ParseError) as info:
        parse("x + y +")
    assert str(info.value) == "expected an operand after '+' (line 1, column 8)\n  x + y +\n         ^"
    assert (info.value.line, info.value.col, info.value.pos, info.value.text) == (1, 8, 7, "x + y +")
    with pytest.raises(ParseError) as info:
        parse("x y")
    assert str(info.value).splitlines() == ["expected an operator between 'x' and 'y' (line 1, column 3)",
                                            "  x y", "    ^", "hint: x*y"]


def test_error_message_is_printable_and_the_caret_lines_up():
    # a bidi override and a null byte are shown as U+FFFD, not sent to the terminal
    with pytest.raises(ParseError) as info:
        parse("ab\u202ecd")
    lines = str(info.value).splitlines()
    assert lines[1] == "  ab\ufffdcd" and lines[2] == "    ^"
    # wide characters take two columns (the parser stops at the first one, but others raise too)
    lines = str(ParseError("m", "ｘｙ$", 2)).splitlines()
    assert lines[1] == "  ｘｙ$" and lines[2] == "      ^"
    lines = str(ParseError("m", "a\tb\u0301c", 4)).splitlines()     # a tab, a combining accent
    assert lines[1] == "  a b\ufffdc" and lines[2] == "      ^"
    with pytest.raises(ParseError) as info:
        parse("x + $")
    assert str(info.value).splitlines()[2] == "      ^"


def test_long_lines_are_cut_around_the_error():
    text = "x + " * 10_000 + "$" + " + y" * 10_000
    with pytest.raises(ParseError) as info:
        parse(text)
    err = info.value
    assert err.pos == 40_000
    lines = str(err).splitlines()
    assert len(str(err)) < 400
    assert lines[1].startswith("  ...") and lines[1].endswith("...")
    assert lines[1][len(lines[2]) - 1] == "$"        # the caret sits under the '$'


def test_nesting_error_is_both_parse_error_and_too_large():
    with pytest.raises(ParseError) as info:
        parse("x" + "^2" * 5000)
    assert isinstance(info.value, NestingTooDeep) and isinstance(info.value, ExpressionTooLarge)
    assert isinstance(info.value, ValueError)


# ---------------------------------------------------------------------------------------------
# The exception contract, checked on every error
# ---------------------------------------------------------------------------------------------
def check_parse_error(err, text):
    """Every ParseError locates the problem in the user's own text and shows it (TESTING.md s. 6)."""
    assert isinstance(err, ParseError) and isinstance(err, ValueError)
    assert err.text == text
    assert isinstance(err.pos, int) and 0 <= err.pos <= len(text)
    before = text[:err.pos]
    assert err.line == before.count("\n") + 1
    assert err.col == err.pos - (before.rfind("\n") + 1) + 1
    assert err.hint is None or isinstance(err.hint, str)
    message = str(err)
    lines = message.split("\n")
    assert len(lines) >= 3
    assert lines[0].endswith(f"(line {err.line}, column {err.col})") and len(lines[0]) > 25
    assert all(c.isprintable() for line in lines for c in line), repr(message)   # no raw controls/bidi
    src = text.split("\n")[err.line - 1]
    shown, caret = lines[1], lines[2]
    assert shown.startswith("  ") and caret.startswith("  ") and caret.endswith("^")
    assert set(caret[2:-1]) <= {" "}
    pad = len(caret) - 3
    if len(src) <= 120:                    # shown whole: char for char, or U+FFFD for the invisible
        shown = shown[2:]
        assert len(shown) == len(src)
        for s, c in zip(shown, src):
            assert s == c or s == "\ufffd" or (c == "\t" and s == " "), (s, c)
            if " " <= c <= "~":
                assert s == c
        if src.isascii():
            assert pad == err.col - 1
        else:
            assert err.col - 1 <= pad <= 2 * (err.col - 1)
    else:
        assert len(shown) <= 2 + 3 + 120 + 3
    if len(lines) > 3:
        assert lines[3] == f"hint: {err.hint}"


def _timed_parse(text):
    gc.disable()                    # a collection of the test process's garbage is not the parser's time
    start = time.perf_counter()
    try:
        parse(text)
        error = None
    except ParseError as err:
        error = err
    except ExpressionTooLarge:
        error = None
    finally:
        elapsed = time.perf_counter() - start
        gc.enable()
    return error, elapsed


def check_contract(text):
    """Parse: only ParseError or ExpressionTooLarge may escape, within 100 ms for inputs <= 4 KB
    (a slow parse is timed once more, so that a busy machine's hiccup is not a failure)."""
    error, elapsed = _timed_parse(text)
    if error is not None:
        check_parse_error(error, text)
    if len(text.encode("utf-8", "surrogatepass")) <= 4096 and elapsed >= 0.1:
        elapsed = min(elapsed, _timed_parse(text)[1])
        assert elapsed < 0.1, f"{elapsed:.3f} s for {text!r}"


# ---------------------------------------------------------------------------------------------
# Fuzz campaigns (TESTING.md section 6)
# ---------------------------------------------------------------------------------------------
@settings(max_examples=n_examples(1000, 100_000), deadline=None)
@given(st.text(st.characters(exclude_categories=()), max_size=200))     # surrogates included
def test_fuzz_any_unicode_text(text):
    check_contract(text)


SOUP = [
    # the grammar
    "x", "y", "z", "w1", "theta_2", "E", "alpha", "2", "0.5", ".5", "1e-3", "3", "10", "pi", "e",
    "+", "-", "*", "/", "^", "**", "(", ")", ",", " ", "\t",
    "sin", "ln", "log", "exp", "sqrt", "relu", "abs", "sigmoid", "softplus", "asin", "tanh",
    # hostile
    "lambda", "if", "else", "'", '"', "0x1f", "1e308", "9" * 25, ".", ";", "[", "]", "__", "__import__",
    "os", "import", "{", "}", "=", ":", "#", "\\", "@", "!", "%", "&", "|", "~", "`", "_", "1e", "e5",
    "\x00", "\n", "\r\n", "²", "\u0445", "ｘ", "\u202e", "\u200b", "\u00a0", "π", "×", "−",
]


@settings(max_examples=n_examples(2000, 200_000), deadline=None)
@given(st.lists(st.sampled_from(SOUP), min_size=1, max_size=30))
def test_fuzz_token_soup(tokens):
    check_contract("".join(tokens))


# -- a generator of valid formulas, with the AST the parser must give --------------------------
LEAF_NUMBERS = ["2", "3", "7", "10", "0.5", ".5", "1e-3", "1.5e2", "0"]
LEAF_NAMES = ["x", "y", "z", "w1", "theta_2", "E", "lambda"]
FUNCTION_NAMES = ["exp", "log", "ln", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "abs",
                  "softplus", "asin", "acos", "atan", "sinh", "cosh"]

def random_tree(rnd, size):
    """A random formula tree of exactly ``size`` nodes, in the generator's own tags
    (num, var, const, neg, call, add, sub, mul, div, pow)."""
    if size <= 1:
        kind = rnd.random()
        if kind < 0.35:
            return ("num", rnd.choice(LEAF_NUMBERS))
        if kind < 0.9:
            return ("var", rnd.choice(LEAF_NAMES))
        return ("const", rnd.choice(["pi", "e"]))
    if size == 2 or rnd.random() < 0.25:
        if rnd.random() < 0.5:
            return ("neg", random_tree(rnd, size - 1))
        return ("call", rnd.choice(FUNCTION_NAMES), random_tree(rnd, size - 1))
    left = rnd.randint(1, size - 2)
    return (rnd.choice(["add", "sub", "mul", "div", "pow"]), random_tree(rnd, left),
            random_tree(rnd, size - 1 - left))


def tree_size(t):
    return 1 + sum(tree_size(c) for c in t[1:] if isinstance(c, tuple))


@st.composite
def formulas(draw, max_size=40):
    """(tree, rnd): a random tree of at most 40 nodes and the Random that renders it, both from seeds
    (Hypothesis shrinks the seeds and the size; the failing text is printed with note())."""
    size = draw(st.integers(1, max_size))
    seed = draw(st.integers(0, 2**32 - 1))
    rnd = random.Random(seed)
    return random_tree(rnd, size), rnd


class R:
    """A rendering: tokens, precedence level (1 sum, 2 product, 3 unary, 4 power, 5 atom), the
    expected AST, and what later renderings need (the flat terms/factors, or unary parity)."""

    def __init__(self, toks, level, ast, extra=None):
        self.toks, self.level, self.ast, self.extra = toks, level, ast, extra


def _paren(r):
    return R(["("] + r.toks + [")"], 5, r.ast)


def _need(r, level, rnd):
    return _paren(r) if r.level < level or rnd.random() < 0.08 else r


def _kind(tok):
    if tok[0].isdigit() or tok[0] == ".":
        return "num"
    if tok[0].isalpha():
        return "name"
    return tok


def render(t, rnd, explicit=False):
    """Render the tree as tokens with random but meaning-preserving choices. ``explicit``: only '*'
    and '**' (Python syntax, for SymPy)."""
    tag = t[0]
    if tag == "num":
        return R([t[1]], 5, ("num", t[1]))
    if tag == "var":
        return R([t[1]], 5, ("name", t[1]))
    if tag == "const":
        return R([t[1]], 5, ("const", t[1]))
    if tag == "call":
        a = render(t[2], rnd, explicit)
        return R([t[1], "("] + a.toks + [")"], 5, ("call", "log" if t[1] == "ln" else t[1], a.ast))
    if tag == "neg":
        a = _need(render(t[1], rnd, explicit), 3, rnd)
        parity, core = (a.extra[0] ^ 1, a.extra[1]) if a.level == 3 else (1, a.ast)
        return R(["-"] + a.toks, 3, ("neg", core) if parity else core, (parity, core))
    a, b = render(t[1], rnd, explicit), render(t[2], rnd, explicit)
    if tag in ("add", "sub"):
        a, b = _need(a, 1, rnd), _need(b, 2, rnd)
        terms = list(a.extra) if a.level == 1 else [a.ast]
        terms.append(b.ast if tag == "add" else ("neg", b.ast))
        return R(a.toks + ["+" if tag == "add" else "-"] + b.toks, 1, ("add", tuple(terms)), terms)
    if tag == "mul":
        a = _need(a, 2, rnd)
        factors = list(a.extra[1]) if a.level == 2 and a.extra[0] == "mul" else [a.ast]
        bb = _need(b, 4, rnd)
        implicit = (not explicit and rnd.random() < 0.5 and _kind(a.toks[-1]) in ("num", ")")
                    and _kind(bb.toks[0]) in ("name", "("))
        if implicit:
            toks = a.toks + bb.toks
            b = bb
        else:
            b = _need(b, 3, rnd)
            toks = a.toks + ["*"] + b.toks
        factors.append(b.ast)
        return R(toks, 2, ("mul", tuple(factors)), ("mul", factors))
    if tag == "div":
        a, b = _need(a, 2, rnd), _need(b, 3, rnd)
        return R(a.toks + ["/"] + b.toks, 2, ("div", a.ast, b.ast), ("div",))
    assert tag == "pow"
    a, b = _need(a, 5, rnd), _need(b, 3, rnd)
    op = "**" if explicit or rnd.random() < 0.3 else "^"
    return R(a.toks + [op] + b.toks, 4, ("pow", a.ast, b.ast))


def join(toks, rnd):
    """Join tokens with random blanks, keeping apart what would otherwise fuse (2 then e -> 2e-3)."""
    out = [toks[0]]
    for prev, tok in zip(toks, toks[1:]):
        fuse = _kind(prev) == "num" and tok[0] in "eE"
        if fuse or rnd.random() < 0.3:
            out.append(rnd.choice([" ", " ", "\t", "  "]))
        out.append(tok)
    return "".join(out)


FUNCS = {
    "exp": np.exp, "log": np.log, "ln": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "relu": lambda v: np.maximum(v, 0),
    "abs": np.abs, "softplus": lambda v: np.log1p(np.exp(v)), "asin": np.arcsin, "acos": np.arccos,
    "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh,
}
CONST = {"pi": np.pi, "e": np.e}


def eval_tree(t, env):
    """Direct NumPy evaluation of a generated tree (binary, left to right)."""
    tag = t[0]
    if tag == "num":
        return np.full_like(env["x"], float(t[1]))
    if tag == "var":
        return env[t[1]]
    if tag == "const":
        return np.full_like(env["x"], CONST[t[1]])
    if tag == "neg":
        return -eval_tree(t[1], env)
    if tag == "call":
        return FUNCS[t[1]](eval_tree(t[2], env))
    a, b = eval_tree(t[1], env), eval_tree(t[2], env)
    return {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power}[tag](a, b)


def eval_ast(node, env):
    """A tiny evaluator of the parser's AST: n-ary nodes left to right."""
    tag = node[0]
    if tag == "num":
        return np.full_like(env["x"], float(node[1]))
    if tag == "name":
        return env[node[1]]
    if tag == "const":
        return np.full_like(env["x"], CONST[node[1]])
    if tag == "neg":
        return -eval_ast(node[1], env)
    if tag == "call":
        return FUNCS[node[1]](eval_ast(node[2], env))
    if tag in ("add", "mul"):
        op = np.add if tag == "add" else np.multiply
        acc = eval_ast(node[1][0], env)
        for item in node[1][1:]:
            acc = op(acc, eval_ast(item, env))
        return acc
    op = np.divide if tag == "div" else np.power
    return op(eval_ast(node[1], env), eval_ast(node[2], env))


def points(seed):
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-2, 2, size=5) for name in LEAF_NAMES}


def assert_same_values(got, want):
    assert got.shape == want.shape
    assert np.array_equal(np.isnan(got), np.isnan(want)), (got, want)
    ok = ~np.isnan(want)
    assert np.array_equal(np.isinf(got[ok]), np.isinf(want[ok])), (got, want)
    fin = ok & np.isfinite(want)
    if fin.any():
        assert np.all(np.abs(got[fin] - want[fin]) <= 1e-12 * np.maximum(1, np.abs(want[fin]))), (got, want)
    assert np.array_equal(got[ok & ~fin], want[ok & ~fin])


@settings(max_examples=n_examples(500, 50_000), deadline=None)
@given(formulas(), st.integers(0, 2**32 - 1))
def test_grammar_formulas_parse_to_the_expected_ast_and_values(formula, seed):
    tree, rnd = formula
    r = render(tree, rnd)
    text = join(r.toks, rnd)
    note(f"text: {text!r}")
    got = parse(text)
    assert got == r.ast
    env = points(seed)
    with np.errstate(all="ignore"):
        assert_same_values(eval_ast(got, env), eval_tree(tree, env))


HOSTILE_MUTATIONS = SOUP


@settings(max_examples=n_examples(1000, 100_000), deadline=None)
@given(formulas(),
       st.lists(st.tuples(st.sampled_from(["insert", "delete", "swap"]), st.integers(0, 200),
                          st.sampled_from(HOSTILE_MUTATIONS)), min_size=1, max_size=3))
def test_fuzz_mutated_grammar_formulas(formula, mutations):
    tree, rnd = formula
    toks = render(tree, rnd).toks
    for op, i, tok in mutations:
        i %= len(toks) + (op == "insert")
        if op == "insert":
            toks = toks[:i] + [tok] + toks[i:]
        elif op == "delete" and len(toks) > 1:
            toks = toks[:i] + toks[i + 1:]
        elif op == "swap" and i + 1 < len(toks):
            toks = toks[:i] + [toks[i + 1], toks[i]] + toks[i + 2:]
    text = join(toks, rnd)
    note(f"text: {text!r}")
    check_contract(text)


def _magnitude(t, env):
    """The largest |value| among the tree's subexpressions at the points (for cancellation)."""
    worst = np.abs(eval_tree(t, env))
    for c in t[1:]:
        if isinstance(c, tuple):
            worst = np.fmax(worst, _magnitude(c, env))
    return worst


@settings(max_examples=n_examples(100, 5_000), deadline=None)
@given(formulas(max_size=20), st.integers(0, 2**32 - 1))
def test_sympy_agrees_on_the_explicit_spelling(formula, seed):
    """SymPy, as a second and independent oracle, reads the same formula spelled in Python syntax."""
    sympy = pytest.importorskip("sympy")
    tree, rnd = formula
    r = render(tree, rnd, explicit=True)
    text = join(r.toks, rnd)
    rename = {"lambda": "lam", "E": "E_", "ln": "log"}
    py_text = "".join(rename.get(tok, tok) for tok in r.toks)
    names = ["x", "y", "z", "w1", "theta_2", "E_", "lam"]
    symbols = {n: sympy.Symbol(n, real=True) for n in names}
    t = sympy.Symbol("t", real=True)
    local = dict(symbols, pi=sympy.pi, e=sympy.E, log=sympy.log, abs=sympy.Abs,
                 sigmoid=sympy.Lambda(t, 1 / (1 + sympy.exp(-t))), relu=sympy.Lambda(t, sympy.Max(t, 0)),
                 softplus=sympy.Lambda(t, sympy.log(1 + sympy.exp(t))))
    note(f"text: {text!r}; python: {py_text!r}")
    env = points(seed)
    args = [env["lambda" if n == "lam" else "E" if n == "E_" else n] for n in names]
    try:                  # SymPy's own failures (0**-14 is zoo, Max(nan, 0) raises) are no verdict on us
        reference = sympy.sympify(py_text, locals=local, rational=False)
        assume(not reference.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo))
        fn = sympy.lambdify([symbols[n] for n in names], reference, modules="numpy")
        with np.errstate(all="ignore"):
            want = np.asarray(fn(*args), dtype=complex) * np.ones(5)
    except (ValueError, TypeError, ZeroDivisionError, OverflowError, KeyError, RecursionError):
        assume(False)
    with np.errstate(all="ignore"):
        got = eval_ast(parse(text), env)
        scale = np.fmax(1.0, _magnitude(tree, env))
    ok = np.isfinite(got) & np.isfinite(want) & (np.abs(want.imag) <= 1e-12 * np.abs(want))
    assert np.all(np.abs(got[ok] - want.real[ok]) <= 1e-9 * scale[ok]), (got, want)


# ---------------------------------------------------------------------------------------------
# Injection corpus: every payload is a ParseError and nothing happens
# ---------------------------------------------------------------------------------------------
def injection_payloads(marker):
    m = str(marker).replace("\\", "/")
    return [
        f"__import__('os').system('touch {m}')",
        "().__class__.__base__.__subclasses__()",
        "[].__class__.__mro__[1].__subclasses__()",
        "{}.__class__",
        "x.__class__",
        "x.y",
        "e.x",
        "sin.__globals__",
        "x.__init__.__globals__['os']",
        "lambda: 1",
        "(lambda: __import__('os').system('id'))()",
        "[c for c in ()]",
        "f'{x}'",
        '"x"',
        "'x'",
        "exec('1')",
        "eval('1')",
        "compile('1', '', 'eval')",
        f"open('{m}', 'w')",
        "getattr(x,'y')",
        "__builtins__",
        "__import__",
        "globals()",
        "locals()['x']",
        "print(1)",
        "import os",
        "os.system('ls')",
        "x if y else z",
        "x; import os",
        "x = 1",
        "x[0]",
        "`id`",
        "$(id)",
        "; rm -rf /",
        "9**9**9 if 1 else 0",
        "sympy.sympify('x')",
        "x\x00",
        "x\x00__import__('os')",
        "x\r\n+ 1",
        f"x\n__import__('os').system('touch {m}')",
        "sin(x)\r\nimport os",
        "ｘ + 1",
        "\u0445 + 1",
        "x\u202e + 1",
        "x\u2066 + y\u2069",
        "x²(",
        "x\u2028y",
        "x\u200by",
        "x\ufeff",
        "0x1f",
        "1_000",
        "abs(x, y)",
        "sin",
        "\\x41",
    ]


@pytest.fixture
def sentinels(monkeypatch, tmp_path):
    """Record every import, open and shell command made while ``active`` is set."""
    calls = []
    active = [False]
    real_import = builtins.__import__
    real_open = builtins.open

    def spy_import(name, *args, **kwargs):
        if active[0]:
            calls.append(("import", name))
        return real_import(name, *args, **kwargs)

    def spy_open(*args, **kwargs):
        if active[0]:
            calls.append(("open", args))
        return real_open(*args, **kwargs)

    def spy_system(*args, **kwargs):
        calls.append(("system", args))
        return 0

    monkeypatch.setattr(builtins, "__import__", spy_import)
    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(os, "system", spy_system)
    monkeypatch.setattr(os, "popen", spy_system)
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: spy_system(*a))
    return calls, active, tmp_path / "pwned"


def test_injection_corpus(sentinels):
    calls, active, marker = sentinels
    payloads = injection_payloads(marker)
    assert len(payloads) >= 30
    for payload in payloads:
        active[0] = True
        try:
            with pytest.raises(ParseError) as info:
                parse(payload)
        finally:
            active[0] = False
        check_parse_error(info.value, payload)
    assert calls == []
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------
# Limits and resource bombs
# ---------------------------------------------------------------------------------------------
def timed(fn, *args):
    start = time.perf_counter()
    try:
        result = fn(*args)
    except (ParseError, ExpressionTooLarge) as err:
        result = err
    return result, time.perf_counter() - start


def ast_depth(node):
    """Depth of an AST, iteratively (a leaf is 1)."""
    best, todo = 0, [(node, 1)]
    while todo:
        n, d = todo.pop()
        best = max(best, d)
        if n[0] in ("add", "mul"):
            todo.extend((c, d + 1) for c in n[1])
        elif n[0] in ("neg",):
            todo.append((n[1], d + 1))
        elif n[0] == "call":
            todo.append((n[2], d + 1))
        elif n[0] in ("div", "pow"):
            todo.extend([(n[1], d + 1), (n[2], d + 1)])
    return best


def test_text_longer_than_the_limit_is_too_large_at_once():
    result, seconds = timed(parse, "x" * (MAX_TEXT + 1))
    assert type(result) is ExpressionTooLarge and seconds < 0.1
    assert "1,000,000" in str(result)
    assert parse("x" * MAX_TEXT) == V("x" * MAX_TEXT)


def test_100k_nested_parentheses_parse():
    result, seconds = timed(parse, "(" * 100_000 + "x" + ")" * 100_000)
    assert result == x and seconds < 2


def test_100k_unclosed_parentheses_are_an_error():
    result, seconds = timed(parse, "(" * 100_000 + "x" + ")" * 99_999)
    assert isinstance(result, ParseError) and seconds < 2
    assert "missing ')' for '(' at column 1" in str(result) and result.pos == 200_000


def test_200k_term_sum_parses_flat():
    text = " + ".join(["x", "y"] * 100_000)
    result, seconds = timed(parse, text)
    assert seconds < 2
    assert result[0] == "add" and len(result[1]) == 200_000 and result[1][-1] == y


def test_power_tower_5000_deep_is_a_depth_error():
    text = "x" + "^2" * 5000
    result, seconds = timed(parse, text)
    assert isinstance(result, NestingTooDeep) and seconds < 2
    assert "nested too deeply (more than 500 levels)" in str(result)
    assert text[result.pos] == "^"


def test_100k_unary_minuses_parse():
    result, seconds = timed(parse, "-" * 100_000 + "x")
    assert result == x and seconds < 2
    assert parse("-" * 100_001 + "x") == neg(x)
    assert parse("- " * 50_001 + "x") == neg(x)


@pytest.mark.parametrize("bomb", ["9^9^9^9", "((9^9)^9999)^9999", "2^(2^64)", "x^(10^30)", "9**9**9",
                                  "1e999999999", "9" * 10_000 + "^" + "9" * 10_000, "10^-(10^30)"])
def test_resource_bombs_parse_instantly(bomb):
    result, seconds = timed(parse, bomb)
    assert isinstance(result, tuple) and seconds < 0.1


# Depth at the limit: each builder gives an AST of depth exactly k + 1.
DEPTH_BUILDERS = {
    "power tower": lambda k: "x" + "^2" * k,
    "negated groups": lambda k: "-(" * k + "x" + ")" * k,
    "function calls": lambda k: "sin(" * k + "x" + ")" * k,
    "nested sums": lambda k: "(x+" * k + "x" + ")" * k,
    "nested products": lambda k: "2*(" * k + "x" + ")" * k,
    "exponent groups": lambda k: "x^(" * k + "x" + ")" * k,
    "implicit products": lambda k: "2(" * k + "x" + ")" * k,
    "divisions": lambda k: "1/(" * k + "x" + ")" * k,
    "negative exponents": lambda k: "x^-" * (k // 2) + "x",
}


@pytest.mark.parametrize("name", list(DEPTH_BUILDERS))
def test_depth_limit_is_exact(name):
    build = DEPTH_BUILDERS[name]
    k = MAX_DEPTH - 1
    if name == "negative exponents":
        k = MAX_DEPTH - 1 if (MAX_DEPTH - 1) % 2 == 0 else MAX_DEPTH - 2
    ok = parse(build(k))
    assert ast_depth(ok) == k + 1 <= MAX_DEPTH
    for deeper in (k + 2, 5000):
        result, seconds = timed(parse, build(deeper))
        assert isinstance(result, NestingTooDeep), (name, deeper)
        assert seconds < 2
        check_parse_error(result, build(deeper))


WRAPPERS = [("-(", ")"), ("(x+", ")"), ("(", "+x)"), ("2*(", ")"), ("(", ")*2"), ("x^(", ")"), ("(", ")^2"),
            ("sin(", ")"), ("((", "))"), ("x^", ""), ("-", ""), ("--", ""), ("2^-", ""), ("1/", ""), ("1/(", ")"),
            ("2", ""), ("(x)(", ")"), ("", "^2"), ("", "+1"), ("(", ")"), ("x-(", ")"), ("(", ")/x"), ("(-", ")")]


@settings(max_examples=n_examples(300, 20_000), deadline=None)
@given(st.lists(st.sampled_from(WRAPPERS), min_size=1, max_size=40))
def test_depth_limit_agrees_with_the_depth_of_the_tree(wrappers):
    """Whatever the nesting, a text parses under the depth limit exactly when its AST (parsed without
    the limit) is no deeper; the early checks never refuse a formula that fits."""
    text = "x"
    for prefix, suffix in wrappers:
        text = prefix + text + suffix
    note(f"text: {text!r}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(parser_module, "MAX_DEPTH", 10**9)
        try:
            tree = parse(text)
        except ParseError:
            assume(False)
        depth = ast_depth(tree)
        mp.setattr(parser_module, "MAX_DEPTH", 12)
        if depth <= 12:
            assert parse(text) == tree
        else:
            with pytest.raises(NestingTooDeep) as info:
                parse(text)
            check_parse_error(info.value, text)
            assert "more than 12 levels" in str(info.value)


def test_redundant_parentheses_do_not_count_toward_depth():
    inner = "x" + "^2" * (MAX_DEPTH - 1)
    assert ast_depth(parse("(" * 10_000 + inner + ")" * 10_000)) == MAX_DEPTH


def test_node_limit(monkeypatch):
    monkeypatch.setattr(parser_module, "MAX_NODES", 100)
    assert parse("+".join(["x"] * 99))[0] == "add"          # 99 leaves + 1 add
    with pytest.raises(ExpressionTooLarge):
        parse("+".join(["x"] * 100))


def test_a_megabyte_formula_is_quick():
    text = "x" + "-x" * ((MAX_TEXT - 1) // 2)
    result, seconds = timed(parse, text)
    assert result[0] == "add" and seconds < 10       # about 2 s measured


@pytest.mark.parametrize("text", [
    "(" * 4000, ")" * 4000, "-(" * 2000, "x^" * 2000, "sin(" * 1000, "(x)" * 1300, "x+" * 2000 + "$",
    "\u202e" * 4000, "²" * 2000, "9" * 4096, "x" * 4096, "(-" * 2000 + "x",
])
def test_4kb_hostile_inputs_within_100ms(text):
    check_contract(text)


def test_the_parser_does_not_recurse():
    """Deep inputs under a recursion limit of 80 frames: only an iterative parser survives."""
    code = (
        "import sys\n"
        "from partiald.symbolic.parser import parse\n"
        "from partiald import ParseError\n"
        "sys.setrecursionlimit(80)\n"
        "assert parse('(' * 100000 + 'x' + ')' * 100000) == ('name', 'x')\n"
        "assert len(parse('+'.join(['x'] * 200000))[1]) == 200000\n"
        "assert parse('-' * 100000 + 'x') == ('name', 'x')\n"
        "assert parse('x' + '^2' * 499)[0] == 'pow'\n"
        "assert parse('sin(' * 499 + 'x' + ')' * 499)[0] == 'call'\n"
        "for bad in ['x' + '^2' * 5000, '-(' * 5000 + 'x', '(' * 100000, 'x' + ' y' * 100]:\n"
        "    try:\n"
        "        parse(bad)\n"
        "    except ParseError:\n"
        "        pass\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


# ---------------------------------------------------------------------------------------------
# split_hint
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, names, hint", [
    ("xy", {"x", "y"}, "did you mean x*y?"),
    ("xyz", {"x", "y", "z"}, "did you mean x*y*z?"),
    ("xyz", {"x", "y", "z", "xy"}, "did you mean xy*z?"),
    ("xx", {"x"}, "did you mean x*x?"),
    ("w1x", {"w1", "x", "y"}, "did you mean w1*x?"),
    ("xy", {"xy", "x"}, None),
    ("xy", {"x"}, None),
    ("theta", {"t", "x"}, None),
    ("x", {"x", "y"}, None),
    ("xy", set(), None),
    ("ab" * 2000, {"a", "b"}, None),
])
def test_split_hint(name, names, hint):
    assert split_hint(name, names) == hint


# ---------------------------------------------------------------------------------------------
# The source: no dynamic evaluation, standard library only
# ---------------------------------------------------------------------------------------------
def test_parser_source_is_static():
    path = pathlib.Path(parser_module.__file__)
    tree = pyast.parse(path.read_text())
    forbidden = {"eval", "exec", "compile", "__import__", "getattr", "setattr", "globals", "locals", "vars",
                 "literal_eval", "sympify", "open"}
    names = {n.id for n in pyast.walk(tree) if isinstance(n, pyast.Name)}
    attrs = {n.attr for n in pyast.walk(tree) if isinstance(n, pyast.Attribute)
             and not (n.attr == "compile" and getattr(n.value, "id", None) == "re")}   # re.compile is fine
    assert not (names | attrs) & forbidden
    imports = set()
    for n in pyast.walk(tree):
        if isinstance(n, pyast.Import):
            imports |= {a.name for a in n.names}
        elif isinstance(n, pyast.ImportFrom):
            imports.add("." * n.level + (n.module or ""))
    # .functions: the function names, read from the primitive records' ``symbol``
    assert imports <= {"difflib", "re", "unicodedata", "numpy", "..core.errors", ".functions"}, imports
    assert math.isfinite(MAX_DEPTH) and MAX_TEXT == 1_000_000 and parser_module.MAX_NODES == 2_000_000


# ---------------------------------------------------------------------------------------------
# Textbook notation (issue 13 item 5): superscripts, · × ⋅ − ÷, Greek names, √, f(x, y) = ...
# ---------------------------------------------------------------------------------------------
TEXTBOOK = [
    ("x²", "x^2"), ("y³ + 1", "y^3 + 1"), ("x⁻¹", "x^-1"), ("3x²y", "3*x^2*y"), ("2³²", "2^32"),
    ("sin(x)²", "sin(x)^2"), ("(x + 1)²", "(x + 1)^2"), ("-x²", "-x^2"),
    ("x · y", "x*y"), ("x × y", "x*y"), ("x⋅y", "x*y"), ("x − y", "x - y"), ("x ÷ y", "x/y"),
    ("θ^2", "theta^2"), ("α + 1", "alpha + 1"), ("λ*x", "lambda*x"), ("Δ", "Delta"),
    ("θ1 + θ_0", "theta1 + theta_0"), ("2π", "2*pi"), ("√x", "sqrt(x)"), ("√(x + 1)", "sqrt(x + 1)"),
    ("2√x", "2*sqrt(x)"), ("x/0 + ∞", "x/0 + inf"),
    ("f(x, y) = x^2 + y", "x^2 + y"), ("g(θ) = θ²", "theta^2"), ("  L(w,b)=(w + b)^2", "(w + b)^2"),
]


@pytest.mark.parametrize("text, ascii_text", TEXTBOOK, ids=[t for t, _ in TEXTBOOK])
def test_textbook_notation_reads_as_its_ascii_spelling(text, ascii_text):
    assert parse(text) == parse(ascii_text)


def test_definition_left_side():
    from partiald.symbolic.parser import parse_definition
    assert parse_definition("f(x, y) = x*y") == ("f", ("x", "y"), parse("x*y"))
    assert parse_definition("f(θ, x) = θ*x")[:2] == ("f", ("theta", "x"))
    assert parse_definition("x*y")[:2] == (None, None)
    with pytest.raises(ParseError) as info:      # only the left side is dropped: the rest is one formula
        parse("f(x) = x = 1")
    assert info.value.pos == 9
    with pytest.raises(ParseError) as info:      # errors point into the whole text
        parse("f(x) = x +")
    assert info.value.pos == 10


def test_printed_unicode_reads_back():
    from partiald.symbolic.printing import ast_text
    for text in ["x^2 + 3*x*y", "(y - (w*x + b))^2", "-x^-1", "sqrt(x + 1)*theta^2", "2*-3", "a/(b*c)",
                 "x/0 + inf", "(x^y)^z", "3*sqrt(2)*x"]:
        tree = parse(text)
        assert parse(ast_text(tree)) == tree, text
        assert parse(ast_text(tree, "unicode")) == tree, text
