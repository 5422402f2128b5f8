"""A small declarative schema: validates parsed YAML, fills defaults, reports every problem with its line."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from conf.yamlsource import Source

_MISSING = object()


@dataclass
class Ctx:
    source: Source
    problems: list[str]

    def fail(self, path: tuple, message: str) -> None:
        self.problems.append(self.source.problem(path, message))


class Spec:
    """Base of all value specs. `help` feeds the configuration reference."""

    help: str = ""
    default: Any = _MISSING

    def validate(self, value: Any, path: tuple, ctx: Ctx) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__.lower()


@dataclass
class Str(Spec):
    help: str = ""
    default: Any = _MISSING
    pattern: str | None = None
    check: Callable[[str], str | None] | None = None  # returns an error message or None
    nonempty: bool = True

    def validate(self, value, path, ctx):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            ctx.fail(path, f"expected text, got {type(value).__name__}")
            return None
        if self.nonempty and not value.strip():
            ctx.fail(path, "must not be empty")
            return None
        if self.pattern and not re.fullmatch(self.pattern, value):
            ctx.fail(path, f"{value!r} does not match the expected form {self.pattern}")
            return None
        if self.check:
            message = self.check(value)
            if message:
                ctx.fail(path, message)
                return None
        return value

    def describe(self):
        return "text"


@dataclass
class Num(Spec):
    help: str = ""
    default: Any = _MISSING
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False

    def validate(self, value, path, ctx):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (self.integer and not isinstance(value, int)):
            ctx.fail(path, f"expected {'a whole number' if self.integer else 'a number'}, got {value!r}")
            return None
        if not math.isfinite(value):
            ctx.fail(path, f"expected a finite number, got {value!r}")
            return None
        if self.minimum is not None and value < self.minimum:
            ctx.fail(path, f"must be at least {self.minimum}, got {value}")
            return None
        if self.maximum is not None and value > self.maximum:
            ctx.fail(path, f"must be at most {self.maximum}, got {value}")
            return None
        return value

    def describe(self):
        return "integer" if self.integer else "number"


@dataclass
class Bool(Spec):
    help: str = ""
    default: Any = _MISSING

    def validate(self, value, path, ctx):
        if not isinstance(value, bool):
            ctx.fail(path, f"expected true or false, got {value!r}")
            return None
        return value

    def describe(self):
        return "true/false"


@dataclass
class Choice(Spec):
    choices: tuple = ()
    help: str = ""
    default: Any = _MISSING

    def validate(self, value, path, ctx):
        if value not in self.choices:
            ctx.fail(path, f"must be one of {', '.join(map(str, self.choices))}; got {value!r}")
            return None
        return value

    def describe(self):
        return " | ".join(map(str, self.choices))


@dataclass
class ListOf(Spec):
    item: Spec = None
    help: str = ""
    default: Any = _MISSING
    min_items: int = 0
    single_ok: bool = False  # a single value stands for a one-item list

    def validate(self, value, path, ctx):
        if self.single_ok and not isinstance(value, list):
            value = [value]
        if not isinstance(value, list):
            ctx.fail(path, f"expected a list, got {type(value).__name__}")
            return None
        if len(value) < self.min_items:
            ctx.fail(path, f"needs at least {self.min_items} item(s)")
            return None
        return [self.item.validate(v, path + (i,), ctx) for i, v in enumerate(value)]

    def describe(self):
        return f"list of {self.item.describe()}"


@dataclass
class DictOf(Spec):
    """A mapping with free keys (matched by key_pattern) and one value spec."""

    value: Spec = None
    help: str = ""
    default: Any = _MISSING
    key_pattern: str = r"[A-Za-z_][A-Za-z0-9_]*"

    def validate(self, value, path, ctx):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            ctx.fail(path, f"expected a mapping, got {type(value).__name__}")
            return None
        out = {}
        for key, item in value.items():
            if not re.fullmatch(self.key_pattern, key):
                ctx.fail(path + (key,), f"invalid name {key!r}")
                continue
            out[key] = self.value.validate(item, path + (key,), ctx)
        return out

    def describe(self):
        return f"mapping of name to {self.value.describe()}"


@dataclass
class Mapping(Spec):
    """A free mapping of text keys, checked as a whole by `check` (a service's own settings table)."""

    help: str = ""
    default: Any = _MISSING
    check: Callable[[dict], str | None] | None = None

    def validate(self, value, path, ctx):
        if value is None:
            value = {}
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            ctx.fail(path, f"expected a mapping, got {type(value).__name__}")
            return None
        message = self.check(value) if self.check else None
        if message:
            ctx.fail(path, message)
            return None
        return value

    def describe(self):
        return "mapping"


@dataclass
class Record(Spec):
    """A mapping with known keys; unknown keys are errors."""

    fields: dict[str, Spec] = field(default_factory=dict)
    required: tuple = ()
    help: str = ""
    default: Any = _MISSING
    shorthand: str | None = None  # a plain scalar stands for {shorthand: value}
    check: Callable[[dict, tuple, Ctx], None] | None = None

    def validate(self, value, path, ctx):
        if self.shorthand and not isinstance(value, (dict, list)) and value is not None:
            value = {self.shorthand: value}
        if value is None:
            value = {}
        if not isinstance(value, dict):
            ctx.fail(path, f"expected a mapping, got {type(value).__name__}")
            return None
        out = {}
        for key in value:
            if key not in self.fields:
                close = [k for k in self.fields if k.startswith(key[:3])]
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                ctx.fail(path + (key,), f"unknown key{hint}; allowed: {', '.join(self.fields)}")
        for key, spec in self.fields.items():
            if key in value and value[key] is None and key not in self.required:
                out[key] = _copy_default(spec.default) if spec.default is not _MISSING else None
            elif key in value:
                out[key] = spec.validate(value[key], path + (key,), ctx)
            elif key in self.required:
                ctx.fail(path, f"missing required field {key!r}")
                out[key] = None
            elif spec.default is not _MISSING:
                out[key] = _copy_default(spec.default)
            else:
                out[key] = None
        if self.check and not ctx.problems:
            self.check(out, path, ctx)
        return out

    def describe(self):
        return "mapping"


def _copy_default(default):
    if isinstance(default, (dict, list)):
        import copy

        return copy.deepcopy(default)
    return default


def validate(source: Source, spec: Spec) -> tuple[Any, list[str]]:
    ctx = Ctx(source, [])
    data = spec.validate(source.data, (), ctx)
    return data, ctx.problems


def reference(spec: Record, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Rows (key, type, default, help) for the configuration reference in the docs."""
    rows = []
    for key, sub in spec.fields.items():
        name = f"{prefix}{key}"
        default = "" if sub.default is _MISSING else repr(sub.default)
        required = key in spec.required
        rows.append((name, sub.describe(), "required" if required else default, sub.help))
        if isinstance(sub, Record):
            rows.extend(reference(sub, name + "."))
        elif isinstance(sub, ListOf) and isinstance(sub.item, Record):
            rows.extend(reference(sub.item, name + "[]."))
        elif isinstance(sub, DictOf) and isinstance(sub.value, Record):
            rows.extend(reference(sub.value, name + ".<name>."))
    return rows
