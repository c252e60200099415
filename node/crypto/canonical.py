"""RFC 8785 (JCS) canonical JSON: the exact bytes a record commitment is computed over.

Every node and every outside verifier must turn the same record into the same bytes, or a
commitment proves nothing. The hot path is the C `json` encoder, which already writes JCS for
the values records hold; a walk over the value first picks out the rare inputs where it would
not (floats, keys outside the Basic Multilingual Plane) and hands those to the `rfc8785`
package, which implements the ECMAScript number format and UTF-16 key order.

Why `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)` is JCS otherwise
(each point is checked by tests/test_crypto_canonical.py against `rfc8785`):
- strings: it escapes only `"`, `\\` and U+0000..U+001F, using `\\b \\t \\n \\f \\r` and
  lowercase `\\u00xx` for the rest, exactly RFC 8785 §3.2.2.2; "/", U+007F, U+2028 and
  everything else are written as raw UTF-8;
- integers in the I-JSON range print as ECMAScript prints them; true, false, null likewise;
- keys: Python sorts by code point, JCS by UTF-16 code unit; the two orders differ only when a
  key holds a character above U+FFFF, which sends the value to the slow path.
Lone surrogates cannot be encoded as UTF-8 and are refused on both paths.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import rfc8785

__all__ = ["MAX_SAFE_INTEGER", "canonical_json"]

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer JCS accepts: beyond it an IEEE double (what JSON readers use) loses digits."""

_encode = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def canonical_json(obj: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 encoding of a JSON value.

    Accepts dict (string keys only), list, tuple, str, int, bool, None and float; floats are
    written in the ECMAScript format through `rfc8785`, so 1.0 and 1 encode alike.
    Raises ValueError for values JCS cannot represent (integers beyond +/-(2**53 - 1), NaN,
    infinities, lone surrogates) and TypeError for anything that is not JSON (other types,
    non-string keys).
    """
    if type(obj) is dict and _flat_and_plain(obj):
        try:
            return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate: the path below says so as a ValueError
    if _needs_full_jcs(obj):
        return rfc8785.dumps(obj)
    try:
        return _encode(obj).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("string contains a lone surrogate, which is not valid UTF-8") from None


def _flat_and_plain(obj: dict[Any, Any]) -> bool:
    """True for what a record is: ASCII keys, str and safe-int values. orjson then writes
    exactly the `json` fast path's bytes (checked for every BMP character by the tests)."""
    for key, value in obj.items():
        if type(key) is not str or not key.isascii():
            return False
        t = type(value)
        if t is str:
            continue
        if t is not int or not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return False
    return True


def _needs_full_jcs(obj: Any) -> bool:
    """Check the value's domain; say whether the `json` fast path would differ from JCS."""
    # Exact type checks first: records are dicts of str and int, so this loop is the hot path.
    t = type(obj)
    if t is str or t is bool or obj is None:
        return False
    if t is int:
        if -MAX_SAFE_INTEGER <= obj <= MAX_SAFE_INTEGER:
            return False
        raise ValueError("integer outside the I-JSON range +/-(2**53 - 1)")
    if t is dict or isinstance(obj, dict):
        slow = False
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError("JSON object keys must be strings")
            if not key.isascii() and max(key) > "\uffff":
                slow = True  # UTF-16 order differs from code point order
            if _needs_full_jcs(value):
                slow = True
        return slow
    if t is list or isinstance(obj, (list, tuple)):
        slow = False
        for value in obj:
            if _needs_full_jcs(value):
                slow = True
        return slow
    if t is float or isinstance(obj, float):
        return True
    if isinstance(obj, str):  # str subclasses such as StrEnum members
        return False
    if isinstance(obj, int):  # int subclasses (bool handled above, IntEnum)
        return _needs_full_jcs(int(obj))
    raise TypeError(f"{t.__name__} is not a JSON type")
