"""JSON serializer for scrapy-redis (SCHEDULER_SERIALIZER = "crawlers.serializer"): never pickle."""
from __future__ import annotations

import base64
import json
import logging
from typing import Any

logger = logging.getLogger(__name__)

BYTES_TAG = "__bytes__"
DICT_TAG = "__dict__"   # a dict whose keys are not all strings: [[key, value], ...]


class PoisonPayload(ValueError):
    """A payload that is not our JSON (e.g. a pickle planted in Redis): refused, never loaded."""


def _encode(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return {BYTES_TAG: base64.b64encode(bytes(obj)).decode("ascii")}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and set(obj) not in ({BYTES_TAG}, {DICT_TAG}):
            return {k: _encode(v) for k, v in obj.items()}
        return {DICT_TAG: [[_encode(k), _encode(v)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise TypeError(f"cannot serialize {type(obj).__name__} as JSON: {obj!r}")


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def _hook(obj: dict) -> Any:
    if len(obj) == 1 and BYTES_TAG in obj and isinstance(obj[BYTES_TAG], str):
        return base64.b64decode(obj[BYTES_TAG], validate=True)
    if len(obj) == 1 and DICT_TAG in obj and isinstance(obj[DICT_TAG], list):
        return {_hashable(k): v for k, v in obj[DICT_TAG]}
    return obj


def describe(payload: bytes | str) -> str:
    """A short, safe description of a refused payload (for logs and errors)."""
    if isinstance(payload, str):
        return f"{len(payload)} chars starting {payload[:40]!r}"
    kind = "a pickle" if payload[:1] == b"\x80" and payload[1:2] and payload[1] <= 5 else "bytes"
    return f"{kind} of {len(payload)} bytes starting {payload[:16].hex()}"


def dumps(obj: Any) -> str:
    """JSON text of a request dict; bytes become {"__bytes__": base64}."""
    return json.dumps(_encode(obj), ensure_ascii=False, separators=(",", ":"))


def loads(payload: bytes | str) -> Any:
    """Decode what dumps() wrote; anything else raises PoisonPayload (pickle is never called)."""
    text = payload
    if isinstance(payload, (bytes, bytearray, memoryview)):
        payload = bytes(payload)
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise PoisonPayload(f"payload is not UTF-8 JSON: {describe(payload)}") from None
    try:
        return json.loads(text, object_hook=_hook)
    except ValueError as exc:
        raise PoisonPayload(f"payload is not JSON ({exc}): {describe(payload)}") from None
