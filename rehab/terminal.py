"""Text from users made safe before it reaches a terminal.

Patient names, notes, ids, exercise names and file names come from people and files; a
control character in them (an ANSI/OSC escape sequence, a carriage return, a bidirectional
override) could recolour, retitle or rewrite the terminal, or make one patient print like
another. `safe_text` shows every such character as a visible escape (``\\x1b``, ``\\u202e``)
and keeps line breaks and tabs; `out` writes a command's result line through it.
"""

from __future__ import annotations

import re
import sys

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                     "\u202a-\u202e\u2066-\u2069\ufeff]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def safe_text(text: str, keep_newlines: bool = True) -> str:
    """``text`` with control and direction-changing characters shown as escapes (line
    breaks and tabs kept unless ``keep_newlines`` is false)."""
    text = _UNSAFE.sub(_escape, str(text))
    if not keep_newlines:
        text = text.replace("\n", "\\n").replace("\t", "\\t")
    return text


def out(text: str) -> None:
    """Write a command's result (one or more lines) to stdout, made safe."""
    sys.stdout.write(safe_text(text) + "\n")


__all__ = ["out", "safe_text"]
