"""Read YAML while remembering the line of every value, so errors can name it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(Exception):
    """One or more problems in configuration files, each naming file, line and field."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass
class Source:
    """Parsed YAML data of one file plus the line number of every path in it."""

    path: str
    data: Any
    lines: dict[tuple, int] = field(default_factory=dict)

    def line(self, path: tuple) -> int:
        """Line of the value at `path`, or of its nearest parent that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def problem(self, path: tuple, message: str) -> str:
        return f"{self.path}:{self.line(path)}: {format_path(path) or '(file)'}: {message}"


def format_path(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _to_python(node: yaml.Node, path: tuple, lines: dict, source_path: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            key = yaml.SafeLoader(" ").construct_object(key_node) if not isinstance(key_node, yaml.ScalarNode) else key_node.value
            if not isinstance(key, str):
                raise ConfigError([f"{source_path}:{key_node.start_mark.line + 1}: keys must be text, got {key!r}"])
            if key in out:
                raise ConfigError([f"{source_path}:{key_node.start_mark.line + 1}: {format_path(path + (key,))}: duplicate key"])
            out[key] = _to_python(value_node, path + (key,), lines, source_path)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, path + (i,), lines, source_path) for i, item in enumerate(node.value)]
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def parse_yaml(text: str, source_path: str) -> Source:
    """Parse YAML text; a syntax error becomes a ConfigError naming the line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        reason = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{context}, {reason}" if context else reason
        raise ConfigError([f"{source_path}:{line}: YAML syntax error: {detail}"]) from None
    lines: dict[tuple, int] = {}
    data = {} if node is None else _to_python(node, (), lines, source_path)
    return Source(source_path, data, lines)


def read_yaml(path: str | Path) -> Source:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    return parse_yaml(text, str(path))
