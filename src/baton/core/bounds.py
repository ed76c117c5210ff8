"""Bounded records: what one event may hold, and the blob references for what it may not.

An event whose data, as JSON, is larger than the limit has its largest values moved out,
each replaced by a reference `{"$blob": "sha256:<hex>", "bytes": N, "json": bool,
"preview": "<the first characters>"}`. The referenced bytes (the text itself, or a
value's JSON) go to the store's content-addressed blob store, written before the event;
the event's hash covers the reference and so, through the digest, the content.

Pure: `bound` returns the blobs to write; `restore` puts them back; nothing here reads or
writes a store.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

EVENT_BYTES = 64 * 1024  # the default limit of one event's data, as JSON
MIN_EVENT_BYTES = 4 * 1024  # below this a reference and its preview may not fit
PREVIEW_CHARS = 1000  # how much (bytes, whole characters) of a moved value stays in sight
PART_PREVIEW_CHARS = 120  # ... of each part moved out of a value split to fit
BLOB_KEY = "$blob"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")  # fullmatch it
_REF_KEYS = frozenset({BLOB_KEY, "bytes", "json", "preview"})


def digest_of(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def is_ref(value: Any) -> bool:
    """Whether `value` is a blob reference (exactly its four keys, a valid digest)."""
    return (
        isinstance(value, dict)
        and value.keys() == _REF_KEYS
        and isinstance(value[BLOB_KEY], str)
        and DIGEST.fullmatch(value[BLOB_KEY]) is not None
    )


def _size(value: Any) -> int:
    return len(orjson.dumps(value))


def _ref(value: Any, blobs: dict[str, bytes], chars: int = PREVIEW_CHARS) -> dict[str, Any]:
    text = isinstance(value, str)
    content = value.encode() if text else orjson.dumps(value)
    digest = digest_of(content)
    blobs[digest] = content
    # `chars` bytes of the start, whole characters only; fewer if JSON escapes swell them
    preview = content[:chars].decode(errors="ignore")
    ref = {BLOB_KEY: digest, "bytes": len(content), "json": not text, "preview": preview}
    while len(orjson.dumps(preview)) > 2 * chars:
        preview = preview[: len(preview) // 2]
        ref["preview"] = preview
    return ref


def _bound(value: Any, limit: int, blobs: dict[str, bytes]) -> Any:
    if _size(value) <= limit:
        return value
    parts: dict[Any, Any]
    if isinstance(value, dict):
        if is_ref(value):
            return value
        parts = {k: _bound(v, limit, blobs) for k, v in value.items()}
        keys = list(parts)
    elif isinstance(value, list):
        items = [_bound(v, limit, blobs) for v in value]
        parts = dict(enumerate(items))
        keys = list(parts)
    else:
        return _ref(value, blobs)
    # the parts fit one by one but not together: move out the largest until they do
    sizes = {k: _size(v) for k, v in parts.items()}
    total = _size(list(parts.values())) + sum(len(orjson.dumps(k)) + 1 for k in keys)
    for k in sorted(keys, key=lambda k: -sizes[k]):
        if total <= limit:
            break
        if is_ref(parts[k]) or sizes[k] < 400:  # a reference would be no smaller
            continue
        small = _ref(parts[k], blobs, PART_PREVIEW_CHARS)
        total -= sizes[k] - _size(small)
        parts[k] = small
    rebuilt: Any = parts if isinstance(value, dict) else [parts[i] for i in keys]
    if _size(rebuilt) > limit:  # thousands of small values: the whole value goes out
        return _ref(value, blobs)
    return rebuilt


def bound(
    data: dict[str, Any], limit: int = EVENT_BYTES
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """`data` made to fit `limit` bytes of JSON, and the blobs (digest -> bytes) it moved
    out. Data that fits comes back as it is, with no blobs (one serialization: the hot
    path)."""
    if _size(data) <= limit:
        return data, {}
    blobs: dict[str, bytes] = {}
    fitted = {k: _bound(v, limit // 2, blobs) for k, v in data.items()}
    # the event's own keys stay (the fold reads them): what is left goes out, largest first
    for k in sorted(fitted, key=lambda k: -_size(fitted[k])):
        if _size(fitted) <= limit:
            break
        if not is_ref(fitted[k]) and _size(fitted[k]) > 64:
            fitted[k] = _ref(fitted[k], blobs, PART_PREVIEW_CHARS)
    if _size(fitted) > limit:
        raise ValueError(
            f"an event of {len(data)} keys cannot be made to fit {limit} bytes "
            "(raise BATON_EVENT_BYTES)"
        )
    return fitted, blobs


def refs(value: Any) -> Iterator[dict[str, Any]]:
    """Every blob reference in `value`, depth first."""
    if is_ref(value):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from refs(v)


def restore(
    value: Any,
    blobs: Mapping[str, bytes],
    missing: Callable[[dict[str, Any]], Any] | None = None,
) -> Any:
    """`value` with every reference whose blob is given replaced by what it stands for
    (references nested in restored values too); the others by `missing(ref)`, or left as
    they are."""
    if is_ref(value):
        content = blobs.get(value[BLOB_KEY])
        if content is None:
            return value if missing is None else missing(value)
        if not value["json"]:
            return content.decode(errors="replace")
        return restore(orjson.loads(content), blobs, missing)
    if isinstance(value, dict):
        if not any(True for _ in refs(value)):
            return value
        return {k: restore(v, blobs, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [restore(v, blobs, missing) for v in value]
    return value


def visible(value: Any) -> Any:
    """`value` with every reference replaced by its `shown` text (for display)."""
    if is_ref(value):
        return shown(value)
    if isinstance(value, dict):
        return {k: visible(v) for k, v in value.items()}
    if isinstance(value, list):
        return [visible(v) for v in value]
    return value


def shown(value: Any) -> str:
    """Text for a person: a string as it is, a reference as its preview and what was left
    out (with the command that prints it whole)."""
    if is_ref(value):
        more = value["bytes"] - len(value["preview"].encode())
        return (
            f"{value['preview']}… [{value['bytes']:,} bytes in all, {more:,} more: "
            f"baton blob {value[BLOB_KEY]}]"
        )
    return value if isinstance(value, str) else orjson.dumps(value).decode()
