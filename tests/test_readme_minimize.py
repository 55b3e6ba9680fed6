"""The ``partiald minimize`` sessions shown in README.md are what the command prints:
each ``$ partiald minimize ...`` block is run and compared line by line (numbers to
about six significant digits, so the last printed digits may differ between
platforms' floating-point libraries)."""
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _fenced_blocks(text):
    """The text of every fenced code block, in order (fences paired line by line)."""
    blocks, current = [], None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


BLOCKS = [b for b in _fenced_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
          if b.startswith("$ partiald minimize ")]
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?")


def test_readme_shows_minimize_sessions():
    assert len(BLOCKS) >= 2


def _same(shown, actual):
    if NUMBER.sub("#", shown).split() != NUMBER.sub("#", actual).split():
        return False
    for a, b in zip(NUMBER.findall(shown), NUMBER.findall(actual)):
        if float(a) != pytest.approx(float(b), rel=1e-6, abs=1e-300):
            return False
    return True


@pytest.mark.parametrize("block", BLOCKS, ids=[b.splitlines()[0][2:60] for b in BLOCKS])
def test_readme_minimize_output_is_true(block):
    command, *shown = block.rstrip("\n").splitlines()
    args = shlex.split(command[2:])
    assert args[0] == "partiald"
    r = subprocess.run([sys.executable, "-m", "partiald", *args[1:]], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in r.stderr
    actual = r.stdout.rstrip("\n").splitlines()
    assert len(actual) == len(shown), "\n".join(actual)
    for s, a in zip(shown, actual):
        assert _same(s, a), f"README shows\n  {s}\nthe command prints\n  {a}"
