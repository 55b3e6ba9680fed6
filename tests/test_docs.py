"""The literate pages and public docstrings run as doctests, so they cannot rot."""
import doctest
import pathlib

import numpy as np
import pytest

import partiald.api
import partiald.check
import partiald.compile.jit
import partiald.core.debug
import partiald.custom

ROOT = pathlib.Path(__file__).resolve().parents[1]
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


@pytest.mark.parametrize("page", ["docs/internals.md"])
def test_markdown_page_examples_run(page):
    result = doctest.testfile(str(ROOT / page), module_relative=False, optionflags=FLAGS)
    assert result.attempted > 10
    assert result.failed == 0


@pytest.mark.parametrize("module", [partiald.api, partiald.check, partiald.compile.jit, partiald.core.debug,
                                    partiald.custom, partiald.scipy.special], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=FLAGS, extraglobs={"np": np})
    assert result.attempted > 0
    assert result.failed == 0
