"""Subject identifiers: check characters, normalisation, pseudonyms, and no identity in errors."""

import datetime as dt
import hashlib
import hmac

import pytest

from node.crypto.subjects import (
    ENTERPRISE,
    PERSON,
    RESIDENT_ID_CAPACITY,
    USCC_CAPACITY,
    InvalidIdentifier,
    make_resident_id,
    make_uscc,
    normalise,
    normalise_resident_id,
    normalise_uscc,
    subject_key,
    subject_key_normalised,
)

SECRET = bytes(range(32))
RID = "11010519491231002X"  # the example of GB 11643-1999
# Published codes of listed companies, checked here independently of our generator.
USCCS = [
    "91350100M000100Y43",
    "914403001922038216",
    "91110108551385082Q",
    "91330100716105852F",
    "91440300708461136T",
    "91110000802100433B",
]
_SEQS = [0, 1, 2, 999, 1000, 123_456, 20_454_000, 99_999_999, 100_000_000, 123_456_789]


def _other_check_chars(valid: str, alphabet: str) -> list[str]:
    return [valid[:17] + c for c in alphabet if c != valid[17]]


# --- resident ID --------------------------------------------------------------------------


def test_standard_example_resident_id_is_accepted() -> None:
    assert normalise_resident_id(RID) == RID


@pytest.mark.parametrize(
    "raw",
    [
        "11010519491231002x",
        " 11010519491231002X ",
        "110105 19491231 002x",
        "１１０１０５１９４９１２３１００２ｘ",
    ],
)
def test_resident_id_is_normalised_to_upper_case_without_spaces(raw: str) -> None:
    assert normalise_resident_id(raw) == RID


@pytest.mark.parametrize("bad", _other_check_chars(RID, "0123456789X"))
def test_resident_id_with_wrong_check_character_is_rejected(bad: str) -> None:
    with pytest.raises(InvalidIdentifier, match="check character does not match"):
        normalise_resident_id(bad)


def test_resident_id_with_one_digit_changed_is_rejected() -> None:
    for pos in range(17):
        for digit in "0123456789":
            if digit != RID[pos]:
                with pytest.raises(InvalidIdentifier):
                    normalise_resident_id(RID[:pos] + digit + RID[pos + 1 :])


def test_resident_id_with_two_adjacent_digits_swapped_is_rejected() -> None:
    for pos in range(16):
        swapped = RID[:pos] + RID[pos + 1] + RID[pos] + RID[pos + 2 :]
        if swapped != RID:
            with pytest.raises(InvalidIdentifier):
                normalise_resident_id(swapped)


@pytest.mark.parametrize("bad", ["", "1101051949123100", "11010519491231002X1", "110105491231002"])
def test_resident_id_of_wrong_length_is_rejected(bad: str) -> None:
    with pytest.raises(InvalidIdentifier, match="must be 18 characters"):
        normalise_resident_id(bad)


@pytest.mark.parametrize("bad", ["1101051949123100AX", "X1010519491231002X", "11010519491231002Y"])
def test_resident_id_with_letters_in_the_wrong_place_is_rejected(bad: str) -> None:
    with pytest.raises(InvalidIdentifier, match="17 digits"):
        normalise_resident_id(bad)


def test_resident_id_with_arabic_indic_digits_is_rejected() -> None:
    # str.isdigit() accepts these; the standard does not.
    with pytest.raises(InvalidIdentifier):
        normalise_resident_id("\u0661" + RID[1:])


def _with_birth_date(yyyymmdd: str) -> str:
    body = "110105" + yyyymmdd + "002"
    for check in "0123456789X":
        try:
            return normalise_resident_id(body + check, today=dt.date(2100, 1, 1))
        except InvalidIdentifier as e:
            if "check character" not in str(e):
                return body + check
    raise AssertionError("no check character fits")


@pytest.mark.parametrize("date", ["19490230", "19491301", "19490001", "19490100", "20230229"])
def test_resident_id_with_impossible_birth_date_is_rejected(date: str) -> None:
    with pytest.raises(InvalidIdentifier, match="not a real date"):
        normalise_resident_id(_with_birth_date(date))


def test_resident_id_born_before_1900_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier, match="out of range"):
        normalise_resident_id(_with_birth_date("18991231"))
    assert normalise_resident_id(_with_birth_date("19000101"))


def test_resident_id_born_in_the_future_is_rejected() -> None:
    rid = _with_birth_date("20300101")
    with pytest.raises(InvalidIdentifier, match="out of range"):
        normalise_resident_id(rid, today=dt.date(2029, 12, 31))
    assert normalise_resident_id(rid, today=dt.date(2030, 1, 1)) == rid


def test_leap_day_birth_date_is_accepted() -> None:
    assert normalise_resident_id(_with_birth_date("20000229"))


# --- unified social credit code -----------------------------------------------------------


@pytest.mark.parametrize("code", USCCS)
def test_published_credit_codes_are_accepted(code: str) -> None:
    assert normalise_uscc(code) == code


def test_credit_code_is_normalised_to_upper_case_without_spaces() -> None:
    assert normalise_uscc(" 91350100m000100y43 ") == "91350100M000100Y43"
    assert normalise_uscc("９１３５０１００Ｍ０００１００Ｙ４３") == "91350100M000100Y43"


@pytest.mark.parametrize("bad", _other_check_chars(USCCS[0], "0123456789ABCDEFGHJKLMNPQRTUWXY"))
def test_credit_code_with_wrong_check_character_is_rejected(bad: str) -> None:
    with pytest.raises(InvalidIdentifier, match="check character does not match"):
        normalise_uscc(bad)


def test_credit_code_with_one_character_changed_is_rejected() -> None:
    code = USCCS[0]
    for pos in range(17):
        for c in "0123456789ABCDEFGHJKLMNPQRTUWXY":
            if c != code[pos]:
                with pytest.raises(InvalidIdentifier):
                    normalise_uscc(code[:pos] + c + code[pos + 1 :])


@pytest.mark.parametrize("letter", "IOSVZ")
def test_credit_code_with_letters_outside_the_charset_is_rejected(letter: str) -> None:
    with pytest.raises(InvalidIdentifier, match="only digits and letters"):
        normalise_uscc("91350100" + letter + "000100Y43")


@pytest.mark.parametrize("bad", ["", "91350100M000100Y4", "91350100M000100Y433"])
def test_credit_code_of_wrong_length_is_rejected(bad: str) -> None:
    with pytest.raises(InvalidIdentifier, match="must be 18 characters"):
        normalise_uscc(bad)


# --- errors never carry the identifier ----------------------------------------------------


@pytest.mark.parametrize(
    ("subject_type", "bad"),
    [
        (PERSON, "110105194912310021"),
        (PERSON, "11010519491231002"),
        (PERSON, "11010519491331002X"),
        (PERSON, "1101051949123100AX"),
        (ENTERPRISE, "91350100M000100Y44"),
        (ENTERPRISE, "91350100M000100Y4"),
        (ENTERPRISE, "91350100O000100Y43"),
    ],
)
def test_error_messages_never_contain_the_identifier(subject_type: str, bad: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        subject_key(SECRET, subject_type, bad)
    text = str(info.value) + repr(info.value) + repr(info.value.args)
    for fragment in (bad, bad[:6], bad[6:14], bad[-6:]):
        assert fragment not in text
    # No chained exception (whose message could quote the input) is shown with it either.
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_non_string_identifier_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier):
        normalise_resident_id(110105194912310020)  # type: ignore[arg-type]


# --- subject keys -------------------------------------------------------------------------


def test_subject_key_is_hmac_sha256_of_prefixed_normalised_id() -> None:
    want = hmac.new(SECRET, b"P:" + RID.encode(), hashlib.sha256).hexdigest()
    assert subject_key(SECRET, PERSON, "11010519491231002x") == "0x" + want
    want = hmac.new(SECRET, b"E:91350100M000100Y43", hashlib.sha256).hexdigest()
    assert subject_key(SECRET, ENTERPRISE, "91350100m000100y43") == "0x" + want


def test_subject_key_is_lowercase_hex_of_32_bytes() -> None:
    key = subject_key(SECRET, PERSON, RID)
    assert len(key) == 66 and key.startswith("0x") and key == key.lower()
    int(key, 16)


def test_subject_key_pinned_value() -> None:
    # Every member must derive this same value; a change here splits the consortium.
    assert subject_key(SECRET, PERSON, RID) == (
        "0x" + hmac.new(SECRET, b"P:11010519491231002X", hashlib.sha256).hexdigest()
    )
    assert subject_key(b"consortium-secret", PERSON, RID) == (
        "0x7b4bd69a31d02e7895d5a14072ab680728811381520a502343f2bf8fd5d28101"
    )


def test_subject_key_depends_on_secret_and_type() -> None:
    a = subject_key(SECRET, PERSON, RID)
    assert subject_key(b"another secret", PERSON, RID) != a
    assert subject_key_normalised(SECRET, ENTERPRISE, RID) != a


def test_spelling_variants_of_one_identifier_give_one_key() -> None:
    assert subject_key(SECRET, PERSON, " 110105 19491231 002x") == subject_key(SECRET, PERSON, RID)


def test_subject_key_normalised_matches_subject_key() -> None:
    assert subject_key_normalised(SECRET, PERSON, RID) == subject_key(SECRET, PERSON, RID)


def test_subject_key_rejects_bad_identifier_and_unknown_type() -> None:
    with pytest.raises(InvalidIdentifier):
        subject_key(SECRET, PERSON, "110105194912310021")
    with pytest.raises(InvalidIdentifier):
        subject_key(SECRET, ENTERPRISE, RID)  # a resident ID is not a credit code
    with pytest.raises(ValueError, match="subject type"):
        subject_key(SECRET, "company", USCCS[0])
    with pytest.raises(ValueError, match="subject type"):
        normalise("company", USCCS[0])


# --- synthetic identifiers ----------------------------------------------------------------


def test_generated_resident_ids_are_valid_and_distinct() -> None:
    ids = [make_resident_id(seq) for seq in range(3000)] + [make_resident_id(s) for s in _SEQS]
    assert all(normalise_resident_id(i) == i for i in ids)
    assert len(set(ids)) == len(set(range(3000)) | set(_SEQS))


def test_generated_credit_codes_are_valid_and_distinct() -> None:
    codes = [make_uscc(seq) for seq in range(3000)] + [make_uscc(s) for s in _SEQS]
    assert all(normalise_uscc(c) == c for c in codes)
    assert len(set(codes)) == len(set(range(3000)) | set(_SEQS))


def test_generators_are_deterministic_and_cover_their_whole_range() -> None:
    assert make_resident_id(42) == make_resident_id(42)
    assert normalise_resident_id(make_resident_id(RESIDENT_ID_CAPACITY - 1))
    assert normalise_uscc(make_uscc(USCC_CAPACITY - 1))
    for make, capacity in ((make_resident_id, RESIDENT_ID_CAPACITY), (make_uscc, USCC_CAPACITY)):
        with pytest.raises(ValueError):
            make(capacity)
        with pytest.raises(ValueError):
            make(-1)


def test_generated_credit_codes_carry_a_valid_organisation_code() -> None:
    # GB 11714: positions 9-17 are an organisation code with its own MOD 11 check character.
    for code in [make_uscc(s) for s in _SEQS] + USCCS:
        org = code[8:17]
        total = sum(int(c, 36) * w for c, w in zip(org[:8], (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
        assert "0123456789X0"[11 - total % 11] == org[8]
