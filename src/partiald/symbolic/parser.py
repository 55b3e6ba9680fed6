"""A safe parser of its own for formula text (API.md section 1, TESTING.md section 6).

``parse(text)`` turns one formula into an AST of nested tuples. The parser is
iterative (explicit stacks, no recursion proportional to the input), never
evaluates anything (a power such as ``9^9^9^9`` stays a tree), and any input
either parses or raises :class:`ParseError` (or :class:`ExpressionTooLarge`)
quickly. Only the standard library is used.

The AST (the contract with the lowering in ``expr.py``)::

    ("num", s)              a numeric literal, s its exact source text ("2", "0.5", "1e-3", ".5"),
                            or one of the two non-finite numbers "inf" and "nan"
    ("name", s)             a variable: an ASCII letter, then letters, digits and '_'
    ("const", "pi" | "e")   the only two constants
    ("neg", a)              unary minus (a run of unary signs collapses by parity)
    ("add", (t1, t2, ...))  a flat chain a + b - c as ("add", (a, b, ("neg", c)))
    ("mul", (f1, f2, ...))  a flat chain of '*' and implicit products
    ("div", a, b)           binary, left to right with '*': a*b/c -> ("div", ("mul", (a, b)), c)
    ("pow", a, b)           '^' or '**', right-associative
    ("call", f, a)          f in FUNCTIONS; 'ln' is reported as "log"

Grammar, loosest first (Python's precedence, with '^' spelled both ways)::

    sum     := term (('+' | '-') term)*
    term    := unary (('*' | '/') unary | implicit)*
    unary   := ('+' | '-')* power              # so -x^2 is -(x^2), 2*-3 and x^-1 are fine
    power   := atom (('^' | '**') unary)?      # right-associative: 2^3^2 is 2^(3^2)
    atom    := number | inf | nan | name | pi | e | function '(' sum ')' | '(' sum ')'

The names ``inf`` and ``nan`` are numbers, IEEE infinity and not-a-number (as
NumPy spells them), not variables: a formula's text output writes ``x/0`` as
``inf*x`` and ``0/0`` as ``nan``, and that text parses back to the same formula.
Like ``pi`` and ``e`` they are reserved (no variable is called ``inf`` or
``nan``); ``-inf`` is unary minus applied to ``inf``. Only these lowercase
spellings are numbers: ``Inf``, ``NaN`` and ``infinity`` are variables.

Chains are flat; a parenthesized group keeps its own node, so ``(a+b)+c`` is
an add inside an add (the canonicalizer flattens), and redundant parentheses
vanish: ``((x))`` is ``("name", "x")``.

Implicit multiplication binds like '*' (so ``1/2x`` is ``(1/2)*x`` and ``x^2y``
is ``x^2*y``, as in SymPy and Mathematica). It applies only after a number or
a ')' and before a name, a function call or '(': ``3x``, ``2 sin(x)``,
``2(x+1)``, ``(x+1)(x-1)``, ``(x+1)y``. Everything else needs an operator:
``xy`` is one name, ``x y`` is an error (hint ``x*y``), ``2 3`` and ``(x)2`` are
errors, and ``f(x)`` is an error unless ``f`` is a function.

Textbook notation reads as its ASCII spelling: superscript exponents (``x²``
is ``x^2``, ``x⁻¹`` is ``x^-1``), ``·`` ``⋅`` ``×`` for ``*``, ``−`` for ``-``,
``÷`` for ``/``, ``√x`` and ``√(x + 1)`` for ``sqrt``, ``π`` for ``pi``, ``∞``
for ``inf``, and a Greek letter is the name it spells (``θ`` is ``theta``,
``θ_0`` is ``theta_0``, ``Δ`` is ``Delta``). A left side such as ``f(x, y) =``
is dropped (:func:`parse_definition` returns its variables).

Whitespace is the space and the tab. A formula is one line: line breaks
('\\n', '\\r') are errors, as are every other control, invisible, bidi or
non-ASCII character; the error names the character and suggests the ASCII
spelling where there is one (``ｘ`` -> ``x``, Cyrillic ``х`` -> ``x``, ``ς``
-> ``sigma``). A name followed by '(' that is not a function gets the nearest
function name as a hint (``sinn(x)``: did you mean sin?). Names may not contain ``__``. Hexadecimal,
binary and octal literals (``0x1f``) are errors rather than ``0*x1f``.
"""
import difflib
import re
import unicodedata

from ..core.errors import ExpressionTooLarge, ParseError
from .functions import NAMES

#: longest accepted text, in characters; longer text raises ExpressionTooLarge at once
MAX_TEXT = 1_000_000
#: deepest accepted AST (a leaf has depth 1; redundant parentheses add nothing)
MAX_DEPTH = 500
#: most AST nodes (tuples with a tag) in one formula; more raises ExpressionTooLarge
MAX_NODES = 2_000_000

#: the functions a formula may call: every primitive record with a formula name, and the
#: rewritten names (symbolic/functions.py)
FUNCTIONS = NAMES
CONSTANTS = frozenset({"pi", "e"})
#: names that are numbers, not variables (see the module docstring)
NUMBER_NAMES = frozenset({"inf", "nan"})
_CANONICAL_FN = {"ln": "log"}

__all__ = ["parse", "parse_definition", "split_hint", "split_hint_in", "NestingTooDeep", "FUNCTIONS", "CONSTANTS",
           "NUMBER_NAMES", "GREEK", "OPERATOR_SPELLINGS", "MAX_TEXT", "MAX_DEPTH", "MAX_NODES"]


class NestingTooDeep(ParseError, ExpressionTooLarge):
    """The formula nests deeper than MAX_DEPTH: both a ParseError (it has a position) and, as API.md
    asks of every size limit, an ExpressionTooLarge."""


# One token per match: optional blanks, then a number, a name, an operator, any other single
# character (reported as an error when the parser reaches it), or the end of the text.
def _greek_letters():
    """``{letter: ASCII name}`` for the Greek letters that are names in formulas: every
    ``GREEK SMALL/CAPITAL LETTER <one word>`` (``θ`` -> ``theta``, ``Δ`` -> ``Delta``,
    ``λ`` -> ``lambda``) except pi, which is the constant; final sigma and accented letters
    are not among them (their error hints the ASCII name)."""
    out = {}
    for code in list(range(0x391, 0x3AA)) + list(range(0x3B1, 0x3CA)):
        c = chr(code)
        parts = unicodedata.name(c, "").split()
        if len(parts) != 4 or parts[:3] not in (["GREEK", "SMALL", "LETTER"], ["GREEK", "CAPITAL", "LETTER"]):
            continue
        word = parts[3].lower().replace("lamda", "lambda")
        if word == "pi":
            continue
        out[c] = word if parts[1] == "SMALL" else word.capitalize()
    return out


#: Greek letters read as the names of their ASCII spelling (``θ`` is the variable ``theta``)
GREEK = _greek_letters()
#: textbook spellings of the operators: middle dot, dot operator and times for '*', the minus
#: sign for '-', the division sign for '/' (what ``--pretty`` prints reads back)
OPERATOR_SPELLINGS = {"·": "*", "⋅": "*", "×": "*", "−": "-", "÷": "/"}
_SUPERSCRIPT_DIGITS = {"⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7",
                       "⁸": "8", "⁹": "9"}
_GREEK_CLASS = "".join(sorted(GREEK))

# One token per match: optional blanks, then a number, a name, an operator, any other single
# character (reported as an error when the parser reaches it), or the end of the text. A
# Greek letter (optionally followed by digits or '_' and a suffix: θ1, θ_0) is a name, π the
# constant pi, ∞ the number inf, √ a square root (√x, √(x + 1)), and a run of superscript
# digits (x², x⁻¹) an exponent: see _token().
_TOKEN = re.compile(r"""
    [\ \t]*
    (?:
        (?P<num>(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)
      | (?P<name>[A-Za-z][A-Za-z0-9_]*)
      | (?P<op>\*\*|[-+*/^(),·⋅×−÷])
      | (?P<greek>[""" + _GREEK_CLASS + r"""](?:[0-9]+(?![A-Za-z_])|_[A-Za-z0-9_]+)?)
      | (?P<pi>[π∞])
      | (?P<root>√)
      | (?P<sup>[⁻⁺]*[⁰¹²³⁴⁵⁶⁷⁸⁹]+)
      | (?P<bad>.)
      | (?P<end>\Z)
    )""", re.VERBOSE | re.DOTALL)

# A left side such as "f(x, y) =" (dropped: the formula is the right side; the names in the
# parentheses are its variables)
_DEFINITION = re.compile(r"[ \t]*([A-Za-z][A-Za-z0-9_]*)[ \t]*\(([^()=]*)\)[ \t]*=(?!=)")
_PARAM = re.compile(r"[ \t]*(?:([A-Za-z][A-Za-z0-9_]*)|([" + _GREEK_CLASS + r"](?:[0-9]+|_[A-Za-z0-9_]+)?))[ \t]*\Z")


def _token(m):
    """``(kind, text)`` of a token match, with textbook spellings read as the grammar's: a
    Greek letter is a ``name`` (its ASCII spelling), π the name ``pi``, '×' the op '*'; a
    superscript exponent is ``("sup", "-1")``."""
    kind = m.lastgroup
    tok = m.group(kind)
    if kind == "op":
        return kind, OPERATOR_SPELLINGS.get(tok, tok)
    if kind == "greek":
        return "name", GREEK[tok[0]] + tok[1:]
    if kind == "pi":
        return "name", "pi" if tok == "π" else "inf"
    if kind == "sup":
        digits = "".join(_SUPERSCRIPT_DIGITS.get(c, "") for c in tok)
        return kind, ("-" if tok.count("⁻") % 2 else "") + digits
    return kind, tok

_DIGITS = re.compile(r"[0-9]+")
_HEX_PREFIX = re.compile(r"[xX][0-9a-fA-F]|[bB][01]|[oO][0-7]")

# states of the parser
_OPERAND, _OPERATOR, _CALL = 0, 1, 2


def parse(text):
    """Parse one formula into an AST of nested tuples (see the module docstring).

    Args:
        text: the formula, one line; a ``str`` (subclasses are read as plain strings).

    Returns:
        The AST, e.g. ``("add", (("pow", ("name", "x"), ("num", "2")), ("name", "y")))`` for ``x^2 + y``.

    Raises:
        TypeError: ``text`` is not a string.
        ParseError: the text is not a formula; ``.pos`` points at the offending character and the
            message shows the line with a caret (and a hint where one helps).
        ExpressionTooLarge: the text is longer than MAX_TEXT or would give more than MAX_NODES nodes.
            Nesting deeper than MAX_DEPTH raises :class:`NestingTooDeep`, which is both.

    Examples:
        >>> parse("-x^2")
        ('neg', ('pow', ('name', 'x'), ('num', '2')))
        >>> parse("3x + ln(y)")
        ('add', (('mul', (('num', '3'), ('name', 'x'))), ('call', 'log', ('name', 'y'))))
    """
    if not isinstance(text, str):
        raise TypeError(f"a formula must be a str, not {type(text).__name__}")
    text = str.__str__(text)          # a plain str, whatever a subclass overrides
    return parse_definition(text)[2]


def parse_definition(text):
    """``(name, variables, ast)``: the formula of ``text`` as :func:`parse` reads it, with the
    left side of a definition such as ``f(x, y) = x^2 + y`` split off: ``("f", ("x", "y"),
    ast of x^2 + y)``. Without a left side, name and variables are ``None``.

    The variables of a left side are names (Greek letters read as in formulas: ``f(θ) = ...``
    gives ``("theta",)``), each once; a variable listed there need not occur on the right.

    Examples:
        >>> parse_definition("f(x, y) = x*y")
        ('f', ('x', 'y'), ('mul', (('name', 'x'), ('name', 'y'))))
        >>> parse_definition("x*y")[:2]
        (None, None)
    """
    if not isinstance(text, str):
        raise TypeError(f"a formula must be a str, not {type(text).__name__}")
    text = str.__str__(text)          # a plain str, whatever a subclass overrides
    if len(text) > MAX_TEXT:
        raise ExpressionTooLarge(f"the formula has {len(text):,} characters; the limit is {MAX_TEXT:,}")
    m = _DEFINITION.match(text)
    if m is None:
        return None, None, _parse(text, 0)
    name = m.group(1)
    params = []
    pos = m.start(2)
    for item in m.group(2).split(","):
        pm = _PARAM.match(item)
        if pm is None:
            at = pos + len(item) - len(item.lstrip(" \t"))
            _fail(text, f"the left side {_clip(name)}(...) must list variable names separated by commas, "
                        f"found '{_clip(item.strip())}'", at, f"{_clip(name)}(x, y) = ...")
        v = pm.group(1) or (GREEK[pm.group(2)[0]] + pm.group(2)[1:])
        if v in FUNCTIONS or v in CONSTANTS or v in NUMBER_NAMES or "__" in v:
            _fail(text, f"'{_clip(v)}' is not a variable name: it is a "
                        f"{'function' if v in FUNCTIONS else 'constant' if v in CONSTANTS else 'number'}"
                  if "__" not in v else f"names may not contain '__' ('{_clip(v)}')",
                  pos + item.index(pm.group(1) or pm.group(2)))
        if v in params:
            _fail(text, f"the left side lists '{_clip(v)}' twice", pos + item.index(pm.group(1) or pm.group(2)))
        params.append(v)
        pos += len(item) + 1
    return name, tuple(params), _parse(text, m.end())


def split_hint(name, names):
    """A hint for a name that is other names run together, or None.

    Args:
        name: a multi-letter variable name, such as ``"xy"``.
        names: the other variable names of the formula (``name`` itself is ignored).

    Returns:
        ``"did you mean x*y?"`` when ``name`` is a concatenation of two or more of ``names``
        (the split with the fewest parts), else ``None``.

    Examples:
        >>> split_hint("xy", {"x", "y"})
        'did you mean x*y?'
        >>> split_hint("theta", {"t", "x"}) is None
        True
    """
    words = {w for w in names if isinstance(w, str) and w and w != name}
    if not isinstance(name, str) or not words:
        return None
    return split_hint_in(name, words, sorted({len(w) for w in words}))


def split_hint_in(name, words, lengths):
    """:func:`split_hint` against a prepared set of names ``words`` (which may hold ``name``
    itself: it is not a part of its own split) and the sorted distinct ``lengths`` of them, so
    a formula's names are checked against each other in time linear in their number."""
    size = len(name)
    if size < 2 or size > 1000:
        return None
    for k in lengths:                   # a split ends with a name: most names fail here at once
        if k >= size:
            return None
        if name[size - k:] in words:
            break
    else:
        return None
    # forward: best[i] is (parts, last part's length) of the split of name[:i] with the
    # fewest parts (then the shortest last part); only positions some split reaches are extended
    best = [None] * (size + 1)
    best[0] = (0, 0)
    for i in range(size):
        here = best[i]
        if here is None:
            continue
        for k in lengths:
            j = i + k
            if j > size or k == size:
                break
            if name[i:j] in words:
                cand = (here[0] + 1, k)
                old = best[j]
                if old is None or cand[0] < old[0] or (cand[0] == old[0] and k < old[1]):
                    best[j] = cand
    if best[-1] is None or best[-1][0] < 2:
        return None
    parts, i = [], size
    while i:
        k = best[i][1]
        parts.append(name[i - k:i])
        i -= k
    return f"did you mean {'*'.join(reversed(parts))}?"


def _parse(text, start=0):
    """Operator precedence by hand, with explicit stacks instead of recursion.

    The current frame (one parenthesized group, or the whole text) lives in local variables:
    ``terms`` of the sum so far, ``factors`` of the current term, a pending division ``div``,
    the open power ``chain`` and the parity ``negs`` of the unary minuses before the current
    operand. A non-redundant '(' saves the frame on ``stack`` as a tuple and starts a fresh
    one; its ')' restores it. A '(' that opens in a frame that is still empty (``((x))``) only
    records its position in ``opens``: redundant parentheses cost no frame and no node.

    Operands travel as ``(node, depth)`` pairs so depth is checked as nodes are built. A lower
    bound on the final depth (``committed``, what the saved frames will wrap around the current
    group, plus the open power chain) also stops runaway nesting early, at the '(' or '^' that
    goes too deep: the frame stack and the chain stay within a small multiple of MAX_DEPTH, and
    memory is linear in the text.
    """
    max_depth = MAX_DEPTH
    max_nodes = MAX_NODES
    count = 0                                   # nodes built so far
    stack = []                                  # saved enclosing frames
    committed = 0                               # depth the saved frames will surely add
    opens, fn, fn_pos = [], None, 0             # the '(' positions and function of this frame
    terms, sub, sub_pos, add_pos = [], False, 0, 0
    factors, mul_pos, div = [], 0, None         # div: (left operand, position of '/')
    chain, negs, neg_pos = [], 0, 0             # chain: [(negs, neg_pos, base, position of '^')]

    def node(n, depth, pos):
        nonlocal count
        count += 1
        if depth > max_depth:
            _too_deep(text, pos)
        if count > max_nodes:
            raise ExpressionTooLarge(f"the formula has more than {max_nodes:,} nodes")
        return n, depth

    def nary(tag, items, pos):
        if len(items) == 1:
            return items[0]
        return node((tag, tuple([n for n, _ in items])), max([d for _, d in items]) + 1, pos)

    def fold(value):
        """The end of a unary operand: its signs, the power chain (right to left), a pending '/'."""
        nonlocal negs, div
        if negs:
            value = node(("neg", value[0]), value[1] + 1, neg_pos)
            negs = 0
        while chain:
            n, npos, base, caret = chain.pop()
            value = node(("pow", base[0], value[0]), max(base[1], value[1]) + 1, caret)
            if n:
                value = node(("neg", value[0]), value[1] + 1, npos)
        if div is not None:
            (left, slash), div = div, None
            value = node(("div", left[0], value[0]), max(left[1], value[1]) + 1, slash)
        factors.append(value)

    def end_group():
        """Close the current term and the current sum; return the sum."""
        nonlocal factors, terms, sub
        term = nary("mul", factors, mul_pos)
        if sub:
            term = node(("neg", term[0]), term[1] + 1, sub_pos)
            sub = False
        terms.append(term)
        group = nary("add", terms, add_pos)
        factors, terms = [], []
        return group

    def pristine():
        return not (terms or sub or factors or div or chain or negs)

    def push(pos, new_fn, new_fn_pos):
        nonlocal committed, opens, fn, fn_pos, terms, sub, sub_pos, add_pos, factors, mul_pos, div, chain, negs
        nonlocal neg_pos
        # what this frame will wrap around the new group: its call node, plus the power chain the
        # group is an exponent of, or at least one node if anything else is pending
        adds = (1 if fn else 0) + (len(chain) or (0 if pristine() else 1))
        stack.append((opens, fn, fn_pos, terms, sub, sub_pos, add_pos, factors, mul_pos, div, chain, negs, neg_pos,
                      adds))
        committed += adds
        opens, fn, fn_pos = [pos], new_fn, new_fn_pos
        terms, sub, sub_pos, add_pos = [], False, 0, 0
        factors, mul_pos, div, chain, negs, neg_pos = [], 0, None, [], 0, 0
        if committed + (1 if new_fn else 0) + 1 > max_depth:
            _too_deep(text, new_fn_pos if new_fn else pos)

    def pop():
        nonlocal committed, opens, fn, fn_pos, terms, sub, sub_pos, add_pos, factors, mul_pos, div, chain, negs
        nonlocal neg_pos
        (opens, fn, fn_pos, terms, sub, sub_pos, add_pos, factors, mul_pos, div, chain, negs, neg_pos,
         adds) = stack.pop()
        committed -= adds

    state = _OPERAND
    atom = None                                 # the finished atom, in state _OPERATOR
    prev = None                                 # the match of the previous token
    call, call_pos = None, 0                    # a function name waiting for its '(' (state _CALL)
    rooted = None                               # the position of a '√' before a name or number
    for m in _TOKEN.finditer(text, start):
        kind, tok = _token(m)
        if state == _OPERATOR:
            if kind == "sup":               # x², x⁻¹: a power with a number exponent
                chain.append((negs, neg_pos, atom, m.start(m.lastgroup)))
                negs = 0
                if committed + (1 if fn else 0) + len(chain) + 1 > max_depth:
                    _too_deep(text, m.start(m.lastgroup))
                if tok.startswith("-"):
                    negs, neg_pos, tok = 1, m.start(m.lastgroup), tok[1:]
                atom = node(("num", tok), 1, 0)
                prev = m
                continue
            # after an atom: the common cases first
            if kind == "op":
                if tok == "+" or tok == "-":
                    if negs or chain or div is not None:
                        fold(atom)
                    else:
                        factors.append(atom)
                    term = factors[0] if len(factors) == 1 else nary("mul", factors, mul_pos)
                    factors = []
                    if sub:
                        term = node(("neg", term[0]), term[1] + 1, sub_pos)
                    terms.append(term)
                    if len(terms) == 1:
                        add_pos = m.start(m.lastgroup)
                    sub = tok == "-"
                    sub_pos = m.start(m.lastgroup)
                    state = _OPERAND
                    prev = m
                    continue
                if tok == "*" or tok == "/":
                    if negs or chain or div is not None:
                        fold(atom)
                    else:
                        factors.append(atom)
                    if tok == "/":
                        div = (nary("mul", factors, mul_pos), m.start(m.lastgroup))
                        factors = []
                    elif len(factors) == 1:
                        mul_pos = m.start(m.lastgroup)
                    state = _OPERAND
                    prev = m
                    continue
                if tok == "^" or tok == "**":
                    chain.append((negs, neg_pos, atom, m.start(m.lastgroup)))
                    negs = 0
                    if committed + (1 if fn else 0) + len(chain) + 1 > max_depth:
                        _too_deep(text, m.start(m.lastgroup))
                    state = _OPERAND
                    prev = m
                    continue
                if tok == ")":
                    pos = m.start(m.lastgroup)
                    if not opens:
                        _fail(text, "unbalanced ')'", pos, "remove it, or add the '(' it closes")
                    fold(atom)
                    atom = end_group()
                    opens.pop()
                    if not opens and stack:
                        closing, closing_pos = fn, fn_pos
                        pop()
                        if closing:
                            atom = node(("call", _CANONICAL_FN.get(closing, closing), atom[0]), atom[1] + 1,
                                        closing_pos)
                    else:                       # a redundant '(' of this frame: start afresh
                        sub_pos = add_pos = mul_pos = neg_pos = 0
                    prev = m
                    continue
                if tok == ",":
                    _comma(text, m.start(m.lastgroup), fn if len(opens) == 1 else None, prev)
            elif kind == "end":
                if opens:
                    what, where = (f"'{fn}('", fn_pos) if fn and len(opens) == 1 else ("'('", opens[-1])
                    _fail(text, f"missing ')' for {what} at column {where + 1}", m.start(m.lastgroup),
                          "add ')' or remove the '('")
                fold(atom)
                return end_group()[0]
            elif kind == "bad":
                _bad_character(text, m.start(m.lastgroup), prev)
            # a number, a name or '(' right after an atom: an implicit '*', or an error
            _implicit(text, m, prev)
            fold(atom)
            if len(factors) == 1:
                mul_pos = m.start(m.lastgroup)
            state = _OPERAND
            # fall through: the same token, now as an operand
        if state == _OPERAND:
            if rooted is not None and (kind not in ("name", "num") or tok in FUNCTIONS):
                _fail(text, "'√' needs a number, a name or parentheses after it", m.start(m.lastgroup),
                      "√(x + 1) or sqrt(x + 1)")
            if kind == "root":
                after = _TOKEN.match(text, m.end())
                if after.group(after.lastgroup) == "(":
                    call, call_pos, state = "sqrt", m.start(m.lastgroup), _CALL
                else:
                    rooted = m.start(m.lastgroup)
                prev = m
                continue
            if kind == "name":
                if tok in FUNCTIONS:
                    call, call_pos, state = tok, m.start(m.lastgroup), _CALL
                elif tok in CONSTANTS:
                    atom, state = node(("const", tok), 1, 0), _OPERATOR
                elif tok in NUMBER_NAMES:
                    atom, state = node(("num", tok), 1, 0), _OPERATOR
                else:
                    if "__" in tok:
                        _fail(text, f"names may not contain '__' ('{_clip(tok)}')",
                              m.start(m.lastgroup) + min(tok.index("__"), len(m.group(m.lastgroup)) - 1))
                    atom, state = node(("name", tok), 1, 0), _OPERATOR
            elif kind == "num":
                atom, state = node(("num", tok), 1, 0), _OPERATOR
            elif tok == "-":
                negs ^= 1
                neg_pos = m.start(m.lastgroup)
            elif tok == "+":
                pass
            elif tok == "(":
                if pristine():
                    opens.append(m.start(m.lastgroup))
                else:
                    push(m.start(m.lastgroup), None, 0)
            elif kind == "bad":
                _bad_character(text, m.start(m.lastgroup), prev)
            elif kind == "sup":
                _fail(text, f"the exponent '{m.group(m.lastgroup)}' has no base", m.start(m.lastgroup),
                      f"write the base first: x{m.group(m.lastgroup)} or x^{tok}")
            else:
                _operand_missing(text, m, prev, fn if len(opens) == 1 else None)
            if rooted is not None and state == _OPERATOR:        # √x, √2: the square root of one atom
                atom, rooted = node(("call", "sqrt", atom[0]), 2, rooted), None
        else:                                   # _CALL: a function name must be followed by '('
            if kind == "bad":
                _bad_character(text, m.start(m.lastgroup), prev)
            if tok != "(":
                _call_without_parens(text, call, m)
            push(m.start(m.lastgroup), call, call_pos)
            state = _OPERAND
        prev = m
    # the pattern always ends with an "end" match, so the loop returns or raises before this
    raise AssertionError("unreachable")  # pragma: no cover


# -- error reports ---------------------------------------------------------------------------------
def _fail(text, message, pos, hint=None):
    raise ParseError(message, text, pos, hint)


def _too_deep(text, pos):
    raise NestingTooDeep(f"nested too deeply (more than {MAX_DEPTH} levels)", text, pos,
                         "split the formula into smaller pieces")


def _describe(prev):
    """(kind, text, end) of the previous token's match, or (None, None, -1) at the start."""
    if prev is None:
        return None, None, -1
    kind, tok = _token(prev)
    if kind == "sup":                   # x²: what follows is as after the number of x^2
        return "num", tok.lstrip("-"), prev.end()
    return kind, tok, prev.end()


def _operand_missing(text, m, prev, fn):
    """An operand was expected where ``m`` is (an operator, ')', ',' or the end)."""
    kind, tok = _token(m)
    pos = m.start(m.lastgroup)
    prev_kind, prev_tok, _ = _describe(prev)
    found = f", found '{tok}'" if tok else ""
    if prev_kind is None:
        if not tok:
            _fail(text, "empty formula", pos)
        _fail(text, f"expected an operand before '{tok}'", pos)
    if prev_tok == "(" and tok in (")", ",") and fn:
        if tok == ",":
            _fail(text, f"expected the argument of {fn}(), found ','", pos, f"{fn}(x)")
        _fail(text, f"{fn}() needs an argument", pos, f"{fn}(x)")
    if prev_tok == "(" and tok == ")":
        _fail(text, "empty parentheses '()'", pos)
    hint = "a power is x^2 or x**2" if prev_tok in ("^", "**") and tok in ("*", "^", "**") else None
    _fail(text, f"expected an operand after '{prev_tok}'{found}", pos, hint)


def _comma(text, pos, fn, prev):
    if fn:
        _fail(text, f"{fn}() takes exactly one argument", pos, f"{fn}(x)")
    prev_kind, prev_tok, prev_end = _describe(prev)
    digits = _DIGITS.match(text, pos + 1)
    hint = None
    if prev_kind == "num" and prev_end == pos and digits:
        hint = f"write decimals with a point: {_clip(prev_tok + '.' + digits.group())}"
    _fail(text, "unexpected ','", pos, hint)


def _call_without_parens(text, fn, m):
    kind, tok = _token(m)
    pos = m.start(m.lastgroup)
    if kind in ("num", "name"):
        hint = f"{fn}({_clip(tok)})"
    elif tok in ("^", "**") or kind == "sup":
        power = tok if kind == "sup" else "2"
        hint = f"{fn}(x)^{power} for the power of {fn}(x)"
        if kind == "sup":
            tok = m.group(m.lastgroup)
    else:
        hint = f"{fn}(x)"
    found = f", found '{_clip(tok)}'" if tok else ""
    _fail(text, f"function '{fn}' needs parentheses around its argument{found}", pos, hint)


def _implicit(text, m, prev):
    """Return if the token of ``m`` may follow the previous token with an implicit '*'; else raise."""
    kind, tok = _token(m)
    pos = m.start(m.lastgroup)
    prev_kind, prev_tok, prev_end = _describe(prev)
    if kind == "num":
        left = "(...)" if prev_tok == ")" else _clip(prev_tok)
        hint = f"{left}*{_clip(tok)}"
        if prev_kind == "name":
            hint += f" or {left}^{_clip(tok)}"
        _fail(text, f"expected an operator between '{left}' and '{_clip(tok)}'", pos, hint)
    if prev_kind == "num":
        if kind == "name" and prev_tok == "0" and prev_end == pos and _HEX_PREFIX.match(tok):
            _fail(text, "hexadecimal, binary and octal literals are not supported", prev.start(prev.lastgroup),
                  "write the number in decimal")
        return
    if prev_tok == ")":
        return
    # the previous token is a name or a constant
    if tok == "(":
        if prev_tok in CONSTANTS or prev_tok in NUMBER_NAMES:
            _fail(text, f"'{prev_tok}' is a {'constant' if prev_tok in CONSTANTS else 'number'}, not a function", pos,
                  f"{prev_tok}*(...) for a product" + (", or exp(...)" if prev_tok == "e" else ""))
        known = _LIKELY_FUNCTION.get(prev_tok.lower())
        close = difflib.get_close_matches(prev_tok.lower(), sorted(FUNCTIONS), n=1, cutoff=0.75)
        if known is None and close and len(prev_tok) <= 40:
            known = f"did you mean {close[0]}? ({close[0]}(...); {_clip(prev_tok)}*(...) for a product)"
        hint = known or (f"{_clip(prev_tok)}*(...) for a product; the functions are "
                         + ", ".join(sorted(FUNCTIONS)))
        _fail(text, f"'{_clip(prev_tok)}' is not a function", prev.start(prev.lastgroup), hint)
    right = f"{tok}(...)" if tok in FUNCTIONS else _clip(tok)
    _fail(text, f"expected an operator between '{_clip(prev_tok)}' and '{_clip(tok)}'", pos,
          f"{_clip(prev_tok)}*{right}")


_LIKELY_FUNCTION = {
    "arcsin": "asin(x)", "arccos": "acos(x)", "arctan": "atan(x)", "sqr": "x^2", "pow": "x^y",
    "log10": "log(x)/log(10)", "log2": "log(x)/log(2)", "lg": "log(x)/log(10)", "exp2": "2^x",
    "sec": "1/cos(x)", "csc": "1/sin(x)", "cot": "1/tan(x)", "fabs": "abs(x)",
    "logistic": "sigmoid(x)", "expit": "sigmoid(x)", "arcsinh": "log(x + sqrt(x^2 + 1))",
    "asinh": "log(x + sqrt(x^2 + 1))", "max": "relu(x) for max(x, 0)", "cbrt": "x^(1/3)",
}


def _clip(s, width=20):
    s = s or ""
    return s if len(s) <= width else s[:width - 3] + "..."


# -- characters that are not part of the grammar --------------------------------------------------
_SUPERSCRIPTS = {"⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8",
                 "⁹": "9", "⁻": "-", "⁺": "+"}
_ASCII_FOR = {
    "×": "*", "·": "*", "⋅": "*", "∙": "*", "∗": "*", "÷": "/", "∕": "/", "⁄": "/",
    "−": "-", "–": "-", "—": "-", "‐": "-", "‑": "-", "‒": "-", "﹣": "-", "＋": "+",
    "π": "pi", "ℯ": "e", "√": "sqrt(x)", "∞": "inf", "λ": "lambda", "Λ": "Lambda",
    # Cyrillic and Greek letters that look like Latin ones
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S",
}
_ASCII_MESSAGES = {
    ".": "a '.' must be part of a number such as 0.5",
    "[": "brackets are not allowed", "]": "brackets are not allowed",
    "{": "braces are not allowed", "}": "braces are not allowed",
    "|": "'|' is not allowed", "%": "'%' (remainder) is not supported", "!": "'!' (factorial) is not supported",
    "=": "a formula is one expression, not an equation or a comparison", "<": "comparisons are not supported",
    ">": "comparisons are not supported", "'": "quotes are not allowed", '"': "quotes are not allowed",
    "`": "quotes are not allowed", "\\": "backslashes (LaTeX) are not supported",
    ";": "a formula is one expression: ';' is not allowed", "_": "a name must start with a letter",
    "\n": "line breaks are not allowed: a formula is one line",
    "\r": "line breaks are not allowed: a formula is one line",
    "\x00": "null characters are not allowed",
}
_ASCII_HINTS = {
    "[": "use parentheses ( )", "]": "use parentheses ( )", "{": "use parentheses ( )", "}": "use parentheses ( )",
    "|": "abs(x) for |x|", "\\": "write sqrt(x), pi, a/b", "=": "enter only the right-hand side",
}


def _bad_character(text, pos, prev):
    """Raise the ParseError for a character outside the grammar at ``pos``."""
    prev_kind, prev_tok, prev_end = _describe(prev)
    c = text[pos]
    code = ord(c)
    hint = None
    if code < 128:
        message = _ASCII_MESSAGES.get(c)
        hint = _ASCII_HINTS.get(c)
        if c == "." and prev_kind == "num" and prev_end == pos:
            message, hint = "expected a digit after the decimal point", f"{_clip(prev_tok)}.0"
        elif c == "." and prev_end == pos and (prev_kind == "name" or prev_tok == ")"):
            message = "'.' is not allowed: there is no attribute access"
        elif c == "_" and prev_kind == "num" and prev_end == pos:
            message = "digit separators such as 1_000 are not supported"
        if message is None:
            message = (f"unknown character '{c}'" if c.isprintable()
                       else f"control character U+{code:04X} is not allowed")
        raise ParseError(message, text, pos, hint)
    name = unicodedata.name(c, "")
    label = f"U+{code:04X}" + (f" {name}" if name else "")
    if not c.isprintable():
        kind = "invisible or control character" if unicodedata.category(c)[0] in "CZ" else "character"
        if unicodedata.category(c) == "Cf" and (0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069
                                                 or code in (0x200E, 0x200F, 0x061C)):
            kind = "bidirectional control character"
        if unicodedata.category(c) == "Zs":
            kind, hint = "unusual space", "use an ordinary space"
        raise ParseError(f"{kind} {label} is not allowed", text, pos, hint)
    if c in _SUPERSCRIPTS:
        end = pos
        while end < len(text) and text[end] in _SUPERSCRIPTS:
            end += 1
        exponent = "".join(_SUPERSCRIPTS[s] for s in text[pos:end])
        base = _clip(prev_tok) if prev_end == pos and prev_kind in ("num", "name") else \
            "(...)" if prev_end == pos and prev_tok == ")" else "x"
        hint = f"{base}^{_clip(exponent)}"
    else:
        form = _ASCII_FOR.get(c)
        if form is None and 0xFF01 <= code <= 0xFF5E:          # fullwidth forms of ASCII
            form = chr(code - 0xFEE0)
        if form is None and name.startswith("GREEK ") and "LETTER " in name:
            word = name.split("LETTER ", 1)[1].split()[0].lower().replace("lamda", "lambda").replace("final", "sigma")
            form = word if "SMALL" in name else word.capitalize()
        if form is None:
            folded = unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode()
            if folded and folded.isprintable() and folded.strip():
                form = folded
        if form is not None:
            hint = form if "(" in form or " " in form else f"use ASCII '{form}'"
    raise ParseError(f"non-ASCII character '{c}' ({label})", text, pos, hint)
