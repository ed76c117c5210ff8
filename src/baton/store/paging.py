"""Paging the item index, the same on every backend: the order (oldest or newest first by
creation, ties by id), the cursor that continues a page after its last row, and the text
match (a substring of the objective or the id, ignoring the case of ASCII letters: what
SQLite's `lower()` folds, so every backend finds the same items).

A cursor is the (created_at, item_id) of the last row a page returned; the next page holds
the rows after it in the same order. Unlike an offset it stays put while items arrive: a
newest-first listing that pages on while work is submitted neither repeats nor skips a row.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable

from ..core.index import ItemSummary

Cursor = tuple[float, str]  # (created_at, item_id) of the last row of the previous page

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """`text` with its ASCII capitals made small (and nothing else changed)."""
    return text.translate(_ASCII_LOWER)


def matches(row: ItemSummary, folded_text: str) -> bool:
    """Whether the item's objective or id holds `folded_text` (already `fold`ed)."""
    return folded_text in fold(row.objective) or folded_text in fold(row.item_id)


def position(row: ItemSummary) -> Cursor:
    """The row's place in the order, and the cursor of a page that ends with it."""
    return (row.created_at, row.item_id)


def page(
    rows: Iterable[ItemSummary],
    *,
    newest: bool,
    cursor: Cursor | None,
    text: str | None,
    offset: int,
    limit: int | None,
) -> list[ItemSummary]:
    """The page of `rows` (already filtered by everything else) that a query asks for."""
    folded = fold(text) if text else None
    kept = [
        r
        for r in rows
        if (folded is None or matches(r, folded))
        and (cursor is None or (position(r) < cursor if newest else position(r) > cursor))
    ]
    kept.sort(key=position, reverse=newest)
    return kept[offset : None if limit is None else offset + limit]


def encode(cursor: Cursor) -> str:
    """The cursor as the opaque text the API hands out."""
    raw = json.dumps([cursor[0], cursor[1]], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(text: str) -> Cursor:
    """The cursor `encode` made; ValueError saying what is wrong with any other text."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        at, item = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise ValueError(f"not a cursor this server handed out: {text[:40]!r}") from exc
    if isinstance(at, bool) or not isinstance(at, int | float) or not isinstance(item, str):
        raise ValueError(f"not a cursor this server handed out: {text[:40]!r}")
    return (float(at), item)
