"""Text clean-up shared by extraction: whitespace, control characters, element text."""
from __future__ import annotations

import re

from lxml import etree

_SPACE = re.compile(r"\s+")
# Terminal escape sequences, whole: CSI (ESC [ … final, or the one-byte C1 CSI), OSC / DCS / PM / APC strings
# up to their terminator, and two-byte escapes. Removing only the ESC byte left residue such as "[31m".
_ESCAPE = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
                     r"|(?:\x1b[\]PX^_]|[\x90\x9d\x9e\x9f])[^\x07\x1b\x9c]{0,512}(?:\x07|\x1b\\|\x9c)"
                     r"|\x1b[ -/]*[0-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_SKIP_TAGS = {"script", "style", "noscript", "template"}
_BREAK_TAGS = {"br", "p", "div", "li", "tr", "td", "th", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6"}


def clean(value: str | None) -> str:
    """Collapse whitespace and drop terminal escape sequences and control characters (which XML and feeds refuse)."""
    if not value:
        return ""
    return _SPACE.sub(" ", _CONTROL.sub("", _ESCAPE.sub("", value.replace("\xa0", " ")))).strip()


def element_text(element) -> str:
    """Visible text of an element: no script/style, a space at block and <br> boundaries."""
    parts: list[str] = []

    def walk(node):
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag.lower() in _SKIP_TAGS:
            if node.tail:
                parts.append(node.tail)
            return
        if tag.lower() in _BREAK_TAGS:
            parts.append(" ")
        if node.text and not isinstance(node, (etree._Comment, etree._ProcessingInstruction)):
            parts.append(node.text)
        for child in node:
            walk(child)
        if tag.lower() in _BREAK_TAGS:
            parts.append(" ")
        if node.tail and node is not element:
            parts.append(node.tail)

    walk(element)
    return clean("".join(parts))
