"""Exceptions that are part of the public API."""
import unicodedata


class ParseError(ValueError):
    """A formula could not be parsed.

    Attributes ``text``, ``pos``, ``line`` and ``col`` locate the problem; the
    message shows the source line with a caret under ``pos``. The shown line is
    made safe to print: control, invisible and bidirectional characters appear
    as U+FFFD, tabs as spaces, and a long line is cut to a window around ``pos``.
    """

    def __init__(self, message, text="", pos=0, hint=None):
        self.text = text
        self.pos = max(0, min(pos, len(text)))
        before = text[: self.pos]
        self.line = before.count("\n") + 1
        self.col = self.pos - (before.rfind("\n") + 1) + 1
        self.hint = hint
        src = text.split("\n")[self.line - 1] if text else ""
        shown, pad = source_excerpt(src, self.col - 1)
        full = f"{message} (line {self.line}, column {self.col})\n  {shown}\n  {' ' * pad}^"
        if hint:
            full += f"\nhint: {hint}"
        super().__init__(full)


#: characters shown either side of the error position when a source line is long
EXCERPT_HALF_WIDTH = 60


def source_excerpt(line, index):
    """The line as a ParseError shows it, and the caret's offset (terminal columns) under ``index``.

    Unprintable characters (controls, bidi overrides, zero-width and unusual spaces,
    combining marks) become U+FFFD so the terminal shows what is there and the caret
    lines up; wide (East Asian) characters count two columns; lines longer than
    2 * EXCERPT_HALF_WIDTH are cut around ``index`` with '...' at the cut ends.
    """
    start, end = 0, len(line)
    if end > 2 * EXCERPT_HALF_WIDTH:
        start = max(0, min(index - EXCERPT_HALF_WIDTH, end - 2 * EXCERPT_HALF_WIDTH))
        end = min(end, start + 2 * EXCERPT_HALF_WIDTH)
    prefix = "..." if start > 0 else ""
    suffix = "..." if end < len(line) else ""
    chars, pad = [], len(prefix)
    for k in range(start, end):
        c = line[k]
        if c == "\t":
            c = " "
        elif not c.isprintable() or unicodedata.combining(c):
            c = "\ufffd"
        if k < index:
            pad += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
        chars.append(c)
    return prefix + "".join(chars) + suffix, pad + max(0, index - end)


class ExpressionTooLarge(ValueError):
    """A formula or a derivative would exceed the size limits."""


class MemoryBudgetError(MemoryError):
    """A dense result would exceed the memory budget; raised before allocating."""


class EscapedTracerError(RuntimeError):
    """A traced value was used after the transformation that made it returned."""


class TracerConversionError(TypeError):
    """A traced value was converted to a concrete value where none exists."""


class MissingRuleError(NotImplementedError):
    """A transformation needs a rule that a primitive's record does not have."""


class BatchingRuleError(MissingRuleError):
    """vmap met a primitive whose record has no batching rule."""


class SparsityRuleError(MissingRuleError):
    """Sparsity detection met a primitive whose record has no sparsity rule."""
