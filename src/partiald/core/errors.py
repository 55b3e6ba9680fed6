"""Exceptions that are part of the public API."""


class ParseError(ValueError):
    """A formula could not be parsed.

    Attributes ``text``, ``pos``, ``line`` and ``col`` locate the problem; the
    message shows the source line with a caret under ``pos``.
    """

    def __init__(self, message, text="", pos=0, hint=None):
        self.text = text
        self.pos = max(0, min(pos, len(text)))
        before = text[: self.pos]
        self.line = before.count("\n") + 1
        self.col = self.pos - (before.rfind("\n") + 1) + 1
        self.hint = hint
        src = text.split("\n")[self.line - 1] if text else ""
        caret = " " * (self.col - 1) + "^"
        full = f"{message} (line {self.line}, column {self.col})\n  {src}\n  {caret}"
        if hint:
            full += f"\nhint: {hint}"
        super().__init__(full)


class ExpressionTooLarge(ValueError):
    """A formula or a derivative would exceed the size limits."""


class MemoryBudgetError(MemoryError):
    """A dense result would exceed the memory budget; raised before allocating."""


class EscapedTracerError(RuntimeError):
    """A traced value was used after the transformation that made it returned."""


class TracerConversionError(TypeError):
    """A traced value was converted to a concrete value where none exists."""
