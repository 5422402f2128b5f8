"""Edits of an official's topics, written back to the official's own YAML file (the file stays the source of truth).

The file is edited round-trip (ruamel.yaml): comments, key order and the other officials' entries are kept.
The edited text is validated with the same loader the notifier uses, in a copy beside the file, before it
replaces the file atomically; an invalid edit leaves the file as it was and says why (file:line: field).
"""
from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from conf.yamlsource import ConfigError
from notifier.subscription import load_subscriptions

MAX_TOPICS = 50


class EditError(ValueError):
    """An edit that was refused; the message is for the official (Korean) and names the problem."""


@dataclass
class TopicForm:
    """A topic as the personal page submits it."""

    name: str
    query: str
    regions: list[str]
    board_kinds: list[str]

    def to_yaml(self) -> CommentedMap:
        topic = CommentedMap(name=self.name.strip(), query=self.query.strip())
        if self.regions:
            topic["regions"] = CommentedSeq(self.regions)
            topic["regions"].fa.set_flow_style()
        if self.board_kinds:
            topic["board_kinds"] = CommentedSeq(self.board_kinds)
            topic["board_kinds"].fa.set_flow_style()
        return topic


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _official_node(data, official_id: str, folder_file: bool):
    if folder_file:
        return data
    for entry in (data or {}).get("officials") or []:
        if isinstance(entry, dict) and entry.get("id") == official_id:
            return entry
    raise EditError(f"{official_id}: 구독 파일에서 이 공무원을 찾지 못했습니다")


def edit_topics(file: str | Path, official_id: str, change, *, folder: bool) -> Path:
    """Apply `change(topics: CommentedSeq)` to the official's topics in `file`; validate; replace atomically.
    `folder`: the file holds one official (a subscriptions folder), else a file with `officials:`."""
    path = Path(file)
    yaml = _yaml()
    try:
        data = yaml.load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EditError(f"구독 파일을 읽지 못했습니다: {exc}") from None
    node = _official_node(data, official_id, folder)
    topics = node.get("topics")
    if topics is None:
        topics = node["topics"] = CommentedSeq()
    change(topics)
    if len(topics) > MAX_TOPICS:
        raise EditError(f"주제는 {MAX_TOPICS}개까지 둘 수 있습니다")
    out = io.StringIO()
    yaml.dump(data, out)
    text = out.getvalue()
    _validate(path, text, folder)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".yaml.tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _validate(path: Path, text: str, folder: bool) -> None:
    """Load the edited text exactly as the notifier would (a folder copy keeps the file-name id rule)."""
    with tempfile.TemporaryDirectory(prefix=".check-", dir=path.parent) as scratch:
        copy = Path(scratch) / path.name
        copy.write_text(text, encoding="utf-8")
        try:
            load_subscriptions(Path(scratch) if folder else copy)
        except ConfigError as exc:
            reason = exc.problems[0].split(f"{copy}:", 1)[-1] if exc.problems else "?"
            raise EditError(f"저장하지 않았습니다. 설정에 맞지 않습니다: {reason}") from None


def _find(topics, name: str) -> int:
    for i, topic in enumerate(topics):
        if isinstance(topic, dict) and topic.get("name") == name:
            return i
    raise EditError(f"주제 ‘{name}’을(를) 찾지 못했습니다")


def add_topic(file, official_id: str, topic: TopicForm, *, folder: bool) -> Path:
    def change(topics):
        if any(isinstance(t, dict) and t.get("name") == topic.name.strip() for t in topics):
            raise EditError(f"같은 이름의 주제 ‘{topic.name.strip()}’이(가) 이미 있습니다")
        topics.append(topic.to_yaml())
    return edit_topics(file, official_id, change, folder=folder)


def replace_topic(file, official_id: str, name: str, topic: TopicForm, *, folder: bool) -> Path:
    def change(topics):
        i = _find(topics, name)
        if topic.name.strip() != name and any(isinstance(t, dict) and t.get("name") == topic.name.strip() for t in topics):
            raise EditError(f"같은 이름의 주제 ‘{topic.name.strip()}’이(가) 이미 있습니다")
        old = topics[i]
        new = topic.to_yaml()
        for key in ("sites",):  # what the page does not edit stays
            if key in old:
                new[key] = old[key]
        topics[i] = new
    return edit_topics(file, official_id, change, folder=folder)


def remove_topic(file, official_id: str, name: str, *, folder: bool) -> Path:
    def change(topics):
        del topics[_find(topics, name)]
        if not topics:
            raise EditError("마지막 주제는 지울 수 없습니다 (주제가 하나는 있어야 합니다)")
    return edit_topics(file, official_id, change, folder=folder)


def add_official(path: str | Path, official_id: str, name: str, topics: list[tuple[str, str]], *,
                 email: str | None = None, organization: str | None = None) -> Path:
    """A new official: a file of their own in a subscriptions folder, or an entry appended to the file."""
    path = Path(path)
    entry = CommentedMap()
    if not path.is_dir():
        entry["id"] = official_id
    entry["name"] = name
    if organization:
        entry["organization"] = organization
    if email:
        entry["email"] = email
    entry["topics"] = CommentedSeq(CommentedMap(name=n, query=q) for n, q in topics)
    if not topics:
        raise EditError("주제가 하나는 있어야 합니다 (--topic 이름=검색어)")
    yaml = _yaml()
    if path.is_dir():
        target = path / f"{official_id}.yaml"
        if target.exists():
            raise EditError(f"구독자 {official_id}는 이미 있습니다 ({target})")
        data, folder = entry, True
    else:
        target = path
        data = yaml.load(target.read_text(encoding="utf-8")) if target.exists() else None
        data = data if data is not None else CommentedMap(officials=CommentedSeq())
        officials = data.setdefault("officials", CommentedSeq())
        if any(isinstance(o, dict) and o.get("id") == official_id for o in officials):
            raise EditError(f"구독자 {official_id}는 이미 있습니다 ({target})")
        officials.append(entry)
        folder = False
    out = io.StringIO()
    yaml.dump(data, out)
    text = out.getvalue()
    _validate(target, text, folder)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".yaml.tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o640)
    os.replace(tmp, target)
    return target
