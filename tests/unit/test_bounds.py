"""What one event may hold (core/bounds.py), and the limit's setting."""

from __future__ import annotations

import orjson
import pytest

from baton.core.bounds import bound, digest_of, is_ref, refs, restore, shown, visible
from baton.errors import InputError
from baton.runtime.recording import event_limit


def size(value: object) -> int:
    return len(orjson.dumps(value))


def test_data_that_fits_is_kept_as_it_is() -> None:
    data = {"attempt": 1, "output": {"text": "short"}}
    fitted, blobs = bound(data, 4096)
    assert fitted is data and blobs == {}


def test_a_large_text_becomes_a_reference_with_a_preview_and_comes_back_whole() -> None:
    text = "line of output\n" * 100_000  # 1.5 MB
    data = {"attempt": 1, "output": {"text": text, "usage": {"seconds": 1.0}}, "usage": {}}
    fitted, blobs = bound(data, 8192)
    assert size(fitted) <= 8192
    ref = fitted["output"]["text"]
    assert is_ref(ref) and ref["bytes"] == len(text.encode()) and not ref["json"]
    assert ref["preview"] == text[:1000]
    assert blobs == {ref["$blob"]: text.encode()}
    assert ref["$blob"] == digest_of(text.encode())
    assert fitted["attempt"] == 1 and fitted["output"]["usage"] == {"seconds": 1.0}
    assert restore(fitted, blobs) == data


def test_many_medium_values_move_out_largest_first_until_the_event_fits() -> None:
    data = {"output": {"data": {f"k{i}": "v" * (3000 + 10 * i) for i in range(20)}}}
    fitted, blobs = bound(data, 32768)
    assert size(fitted) <= 32768
    kept = fitted["output"]["data"]
    moved = [int(k[1:]) for k, v in kept.items() if is_ref(v)]
    assert 0 < len(moved) < 20
    assert min(moved) > max(i for i in range(20) if i not in moved)  # the largest went first
    assert restore(fitted, blobs) == data


def test_thousands_of_small_values_go_out_as_one_json_blob() -> None:
    rows = [{"n": i} for i in range(20_000)]
    data = {"output": {"text": "", "data": rows}}
    fitted, blobs = bound(data, 8192)
    assert size(fitted) <= 8192
    ref = fitted["output"]["data"]
    assert is_ref(ref) and ref["json"]
    assert orjson.loads(blobs[ref["$blob"]]) == rows
    assert restore(fitted, blobs) == data


def test_previews_are_bounded_in_bytes_and_the_events_keys_stay() -> None:
    # 4-byte characters and characters JSON escapes six-fold cannot blow the limit
    for char in ("😀", "\x01"):
        data = {"attempt": 1, "verifier": "v", "passed": False, "evidence": char * 3000}
        fitted, blobs = bound(data, 4096)
        assert size(fitted) <= 4096
        assert fitted.keys() == data.keys() and fitted["verifier"] == "v"
        assert restore(fitted, blobs) == data
    many = {f"k{i}": "x" * 600 for i in range(12)}  # 12 keys, none large: some go out
    fitted, blobs = bound(many, 4096)
    assert size(fitted) <= 4096 and fitted.keys() == many.keys()
    assert restore(fitted, blobs) == many
    with pytest.raises(ValueError, match="cannot be made to fit 4096 bytes"):
        bound({f"key-{i:05d}": i for i in range(2000)}, 4096)


def test_a_lookalike_is_not_a_reference() -> None:
    assert not is_ref({"$blob": "sha256:xyz", "bytes": 1, "json": False, "preview": ""})
    assert not is_ref({"$blob": digest_of(b"a"), "bytes": 1, "json": False})
    good = {"$blob": digest_of(b"a"), "bytes": 1, "json": False, "preview": "a"}
    assert is_ref(good) and list(refs({"x": [good]})) == [good]
    assert restore({"x": good}, {}) == {"x": good}  # without its blob it stays a reference


def test_shown_says_how_much_was_left_out_and_how_to_see_it() -> None:
    fitted, _ = bound({"text": "é" * 50_000}, 8192)
    line = shown(fitted["text"])
    assert line.startswith("é" * 500 + "…")  # the first 1000 bytes, whole characters
    assert "100,000 bytes in all" in line and f"baton blob {fitted['text']['$blob']}" in line
    assert visible(fitted) == {"text": line}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", 65536), ("  ", 65536), ("100000", 100000), ("4096", 4096)],
)
def test_the_limit_comes_from_baton_event_bytes(raw: str, expected: int) -> None:
    assert event_limit({"BATON_EVENT_BYTES": raw}) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [("64k", "expected a whole number of bytes"), ("100", "expected at least 4096 bytes")],
)
def test_a_bad_limit_is_a_clear_error(raw: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        event_limit({"BATON_EVENT_BYTES": raw})
    assert "BATON_EVENT_BYTES" in str(caught.value)
