"""canonical_json must give exactly the bytes of RFC 8785; `rfc8785` is the reference."""

import enum
import hashlib
import math
import random
import struct
from collections import OrderedDict
from typing import Any

import pytest
import rfc8785

from node.crypto.canonical import MAX_SAFE_INTEGER, canonical_json
from node.crypto.commitments import SALT_BYTES, commitment, from_hex, new_salt, to_hex

# Characters chosen to hit every branch of JCS string and key handling.
_SPECIAL = (
    [chr(i) for i in range(0x20)]
    + ['"', "\\", "/", "\x7f", "\x80", "\u00e9", "\u2028", "\u2029", "\ufeff", "\uffff"]
    + ["\ue000", "\uf8ff", "\ufb33", "\u20ac", "\U0001f600", "\U0001f4a9", "\U00010000"]
    + ["\U0010ffff", "张", "三", "征", "信", "A", "z", "0", " ", "é"]
)
_CHINESE = ["张三", "李四", "王五", "逾期", "贷款", "北京市朝阳区", "人民币", "征信查询员"]


def _random_str(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.3:
        return rng.choice(_CHINESE)
    if pick < 0.5:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(0, 8)))
    return "".join(rng.choice(_SPECIAL) for _ in range(rng.randint(0, 6)))


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "bool", "null", "float", "bigint"]
    if depth < 3:
        kinds += ["list", "dict", "dict"]
    kind = rng.choice(kinds)
    if kind == "str":
        return _random_str(rng)
    if kind == "int":
        return rng.randint(-(10**6), 10**6)
    if kind == "bigint":
        return rng.choice([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0, 10**15, -1])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "float":
        return rng.choice(
            [0.0, -0.0, 1.0, 0.5, -1.5, 1e21, 1e-7, 123.456, 1 / 3, 5e-324, 1.7976931348623157e308]
            + [rng.uniform(-1e6, 1e6), struct.unpack("<d", rng.randbytes(8))[0]]
        )
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {_random_str(rng): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def _random_inputs(count: int, seed: int) -> list[Any]:
    rng = random.Random(seed)
    values: list[Any] = []
    while len(values) < count:
        v = _random_value(rng)
        try:
            rfc8785.dumps(v)  # random bit patterns may be NaN or infinite: skip those
        except rfc8785.CanonicalizationError:
            continue
        values.append(v)
    return values


def test_matches_rfc8785_on_generated_values() -> None:
    for value in _random_inputs(3000, seed=8785):
        assert canonical_json(value) == rfc8785.dumps(value), repr(value)


def test_every_bmp_character_is_written_as_jcs_writes_it() -> None:
    # Proves the fast path's escaping claim: controls as \b \t \n \f \r or lowercase \u00xx,
    # quote and backslash escaped, "/", DEL, U+2028 and all the rest raw UTF-8.
    chars = [chr(i) for i in range(0x10000) if not 0xD800 <= i <= 0xDFFF]
    assert canonical_json(chars) == rfc8785.dumps(chars)
    assert canonical_json({c: c for c in chars}) == rfc8785.dumps({c: c for c in chars})


def test_control_characters_use_short_or_lowercase_escapes() -> None:
    assert canonical_json("\b\t\n\f\r") == b'"\\b\\t\\n\\f\\r"'
    assert canonical_json("\x00\x1f\x0b") == b'"\\u0000\\u001f\\u000b"'
    assert canonical_json('"\\') == b'"\\"\\\\"'


def test_slash_del_and_line_separator_are_not_escaped() -> None:
    assert canonical_json("a/b\x7f\u2028\u2029") == '"a/b\x7f\u2028\u2029"'.encode()


def test_chinese_text_is_raw_utf8() -> None:
    record = {"name": "张三", "kind": "逾期", "amount_cents": 123450}
    assert canonical_json(record) == '{"amount_cents":123450,"kind":"逾期","name":"张三"}'.encode()


def test_keys_sort_by_utf16_code_units_as_in_rfc8785_example() -> None:
    # RFC 8785 §3.2.3: U+1F600 (UTF-16 D83D DE00) sorts before U+FB33, unlike code point order.
    obj = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonical_json(obj) == expected.encode()


def test_emoji_keys_nested_deep_are_sorted_by_utf16() -> None:
    obj = {"outer": [{"\U0001f600": 1, "\uffff": 2, "\ue000": 3, "a": 4}]}
    assert canonical_json(obj) == rfc8785.dumps(obj)
    assert canonical_json(obj).index("\U0001f600".encode()) < canonical_json(obj).index(
        "\ue000".encode()
    )


# RFC 8785 Appendix B: IEEE 754 bit patterns and their ECMAScript serialisation.
_NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), _NUMBERS)
def test_floats_use_the_ecmascript_number_format(bits: str, expected: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert canonical_json(value) == expected.encode()
    assert canonical_json({"x": [value]}) == b'{"x":[' + expected.encode() + b"]}"


def test_integral_float_and_int_encode_alike() -> None:
    assert canonical_json({"a": 1.0}) == canonical_json({"a": 1}) == b'{"a":1}'


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_rejected(value: float) -> None:
    with pytest.raises(ValueError):
        canonical_json({"a": value})


@pytest.mark.parametrize("value", [2**53, -(2**53), 10**20, [1, 2**60], {"a": {"b": -(2**64)}}])
def test_integers_beyond_2_to_the_53_are_rejected(value: object) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)


def test_largest_safe_integers_are_accepted() -> None:
    assert canonical_json([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]) == (
        b"[9007199254740991,-9007199254740991]"
    )


@pytest.mark.parametrize(
    "value",
    ["\ud800", {"k": "a\udfffb"}, {"\udc00": 1}, ["ok", "\ud83d"], {"f": 1.5, "s": "\ud800"}],
)
def test_lone_surrogates_are_rejected(value: object) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)


@pytest.mark.parametrize(
    "value", [{1: "a"}, {None: 1}, {"a": {(1, 2): 3}}, {"a": b"bytes"}, {1, 2}]
)
def test_non_json_values_are_rejected_with_type_error(value: object) -> None:
    with pytest.raises(TypeError):
        canonical_json(value)


def test_tuples_encode_as_arrays_and_dict_subclasses_as_objects() -> None:
    assert canonical_json((1, "a")) == b'[1,"a"]'
    assert canonical_json(OrderedDict([("b", 1), ("a", 2)])) == b'{"a":2,"b":1}'


def test_str_and_int_enum_members_encode_as_their_values() -> None:
    class Kind(enum.StrEnum):
        overdue = "overdue"

    class Level(enum.IntEnum):
        high = 3

    obj = {Kind.overdue: Kind.overdue, "level": Level.high}
    assert canonical_json(obj) == b'{"level":3,"overdue":"overdue"}'
    assert canonical_json(obj) == rfc8785.dumps({"overdue": "overdue", "level": 3})


def test_output_is_independent_of_key_insertion_order() -> None:
    rng = random.Random(7)
    for value in _random_inputs(200, seed=11):
        if isinstance(value, dict):
            items = list(value.items())
            rng.shuffle(items)
            assert canonical_json(dict(items)) == canonical_json(value)


def test_typical_credit_record_matches_reference() -> None:
    record: dict[str, Any] = {
        "record_id": "LN-0001-2025-06",
        "subject_key": "0x" + "ab" * 32,
        "kind": "overdue",
        "account_id": "LN-0001",
        "event_date": "2025-06-30",
        "amount_cents": 123450,
        "currency": "CNY",
        "days_past_due": 95,
        "credit_limit_cents": None,
        "payment_history_24m": "NNNN1234",
        "disputed": False,
        "note": "借款人已于2025年7月联系",
    }
    assert canonical_json(record) == rfc8785.dumps(record)


# --- commitments over canonical bytes, and their hex form -----------------------------------


def test_commitment_is_sha256_of_salt_then_canonical_record() -> None:
    salt = bytes(range(32))
    canonical = canonical_json({"b": 1, "a": "张三"})
    assert commitment(salt, canonical) == hashlib.sha256(salt + canonical).digest()
    assert to_hex(commitment(salt, canonical)) == (
        "0x" + hashlib.sha256(salt + b'{"a":"\xe5\xbc\xa0\xe4\xb8\x89","b":1}').hexdigest()
    )


def test_same_record_with_another_salt_gives_another_commitment() -> None:
    canonical = canonical_json({"a": 1})
    assert commitment(new_salt(), canonical) != commitment(new_salt(), canonical)


def test_salts_are_fresh_32_byte_values() -> None:
    salts = {new_salt() for _ in range(100)}
    assert len(salts) == 100 and all(len(s) == SALT_BYTES == 32 for s in salts)


@pytest.mark.parametrize("size", [0, 16, 31, 33])
def test_commitment_refuses_a_salt_of_the_wrong_length(size: int) -> None:
    with pytest.raises(ValueError):
        commitment(bytes(size), b"{}")


def test_hex_round_trips_with_or_without_prefix() -> None:
    data = bytes(range(256))
    assert to_hex(data) == "0x" + data.hex()
    assert from_hex(to_hex(data)) == data
    assert from_hex(data.hex()) == data
    assert from_hex("0XABcd") == b"\xab\xcd"
    assert from_hex("0x") == b"" == from_hex("")
    assert from_hex("0x" + "00" * 32, size=32) == bytes(32)


@pytest.mark.parametrize(
    "bad",
    ["0x1", "abc", "0xzz", "0x ab", "ab cd", " abcd", "abcd\n", "0x0x00", "xab", "٠٠", None, b"ab"],
)
def test_malformed_hex_is_rejected(bad: Any) -> None:
    with pytest.raises(ValueError):
        from_hex(bad)


def test_hex_of_the_wrong_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        from_hex("0x" + "00" * 31, size=32)


def test_flat_record_fast_path_matches_rfc8785_for_every_bmp_character():
    """Records (flat, ASCII keys, str and int values) take orjson; it must write JCS bytes."""
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        value = {"b": chr(cp) + "x" + chr(cp), "a": cp, "c": -cp}
        assert canonical_json(value) == rfc8785.dumps(value), hex(cp)


def test_flat_record_with_lone_surrogate_is_refused():
    with pytest.raises(ValueError):
        canonical_json({"a": "\ud800"})
