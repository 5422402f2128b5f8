"""Read YAML while remembering the line of every value, so errors can name it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


MAX_BYTES = 1024 * 1024  # the largest configuration file read
MAX_DEPTH = 40           # the deepest nesting of mappings and lists


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
    except (ValueError, OverflowError, yaml.YAMLError) as exc:  # e.g. 2024-02-30 read as a date
        what = "date" if node.tag.endswith(":timestamp") else "value"
        raise ConfigError([f"{source_path}:{node.start_mark.line + 1}: {format_path(path) or '(file)'}: "
                           f"{node.value!r} is not a valid {what} ({exc})"]) from None
    finally:
        loader.dispose()


def _refuse_aliases(text: str, source_path: str) -> None:
    """Aliases (*name) can make a few hundred bytes expand to gigabytes: the project's YAML never needs them.
    Deep nesting is refused too (it would exhaust the stack)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise ConfigError([f"{source_path}:{event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are not "
                               "allowed in configuration files; write the value out"])
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError([f"{source_path}:{event.start_mark.line + 1}: nested deeper than {MAX_DEPTH} levels"])
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def parse_yaml(text: str, source_path: str) -> Source:
    """Parse YAML text; a syntax error becomes a ConfigError naming the line. Aliases, files larger than
    MAX_BYTES and nesting deeper than MAX_DEPTH are refused."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise ConfigError([f"{source_path}:1: file larger than {MAX_BYTES // 1024} KiB: configuration files are "
                           "small (split a large subscriptions file into one file per official)"])
    try:
        _refuse_aliases(text, source_path)
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
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError([f"{path}:1: file larger than {MAX_BYTES // 1024} KiB: configuration files are small"])
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    return parse_yaml(text, str(path))
