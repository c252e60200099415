"""A lender's batch file of records, read one line at a time (a file of millions of lines is
never held in memory): JSON Lines, one record as POST /v1/records takes it per line, or CSV
with a header of the flat columns below, one record per line (a quoted cell may hold a line
break, as RFC 4180 allows: the record then spans those lines and is named by its first).

Each line is either a record to send or a rejection made here (not JSON, a number that is
not a number, a row of the wrong length), named by the field at fault and never quoting the
value; the node checks everything else. Every line carries the byte offset after it, so a
run can stop anywhere and the next one start at the first line not yet confirmed.
"""

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

import orjson

from node.records.rejections import rejection
from node.records.schemas import RecordIn, Subject

FileFormat = Literal["csv", "jsonl"]

# The CSV columns: the record's fields, the subject's written flat. In this order in the README.
SUBJECT_COLUMNS = {"subject_type": "type", "id_number": "id_number", "name": "name"}
RECORD_COLUMNS = tuple(f for f in RecordIn.model_fields if f != "subject")
COLUMNS = ("record_id", *SUBJECT_COLUMNS, *RECORD_COLUMNS[1:])
REQUIRED_COLUMNS = ("record_id", "subject_type", "id_number", "kind", "account_id", "event_date")
INTEGER_COLUMNS = frozenset(
    {"amount_cents", "credit_limit_cents", "balance_cents", "days_past_due"}
)
_INTEGER = re.compile(r"-?[0-9]{1,18}")
MAX_RECORD_BYTES = 64 * 1024  # a CSV record spanning lines is read no further
NUMBER_RULE = "must be a whole number written with digits only (no decimal point, no spaces)"

assert set(SUBJECT_COLUMNS.values()) == set(Subject.model_fields)


class BadFile(Exception):
    """The file as a whole cannot be read (its header, its format); one line says why."""


@dataclass
class Line:
    """One line of the file: its number (from 1), the byte offset just after it, and either
    the record to send or the rejection made here."""

    number: int
    end: int
    record: dict[str, Any] | None = None
    rejected: dict[str, Any] | None = None
    last: int = 0  # the last physical line it spans (a quoted cell with a line break); 0: number

    def __post_init__(self) -> None:
        self.last = self.last or self.number


def format_of(name: str, given: str | None) -> FileFormat:
    if given in ("csv", "jsonl"):
        return given  # type: ignore[return-value]
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix == "csv":
        return "csv"
    if suffix in ("jsonl", "ndjson", "json"):
        return "jsonl"
    raise BadFile(f"{name}: cannot tell CSV from JSON Lines by its name; give --format")


def read_lines(
    f: BinaryIO, fmt: FileFormat, *, start: int = 0, first_line: int = 1, digest: Any = None
) -> Iterator[Line]:
    """The lines of `f` from byte `start` (line `first_line`); a blank line is yielded with
    neither record nor rejection. A CSV's header is always read from the top; resuming past
    it skips it. `digest` (a hashlib object) is fed every byte read from `start` on."""
    header: list[str] | None = None
    if fmt == "csv":
        f.seek(0)
        top = f.readline()
        header = read_header(top)
        if start == 0:
            start, first_line = len(top), 2
            if digest is not None:
                digest.update(top)
    f.seek(start)
    offset, number = start, first_line - 1
    physical = iter(f)
    for raw in physical:
        offset += len(raw)
        number += 1
        first, quotes = number, raw.count(b'"')
        if digest is not None:
            digest.update(raw)
        while header is not None and quotes % 2 and len(raw) < MAX_RECORD_BYTES:
            more = next(physical, None)  # a quoted cell holds a line break: the record goes on
            if more is None:
                break
            offset += len(more)
            number += 1
            quotes += more.count(b'"')
            if digest is not None:
                digest.update(more)
            raw += more
        line = _line(raw, header, first, offset)
        line.last = number
        yield line


def _line(raw: bytes, header: list[str] | None, number: int, end: int) -> Line:
    """One line (or, in a CSV, the lines one record spans) as read: blank, rejected here, or
    the record to send."""
    if not raw.strip():
        return Line(number, end)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Line(number, end, rejected=rejection(None, None, "the line is not UTF-8 text"))
    if header is None:
        return _json_line(text, number, end)
    if raw.count(b'"') % 2:
        unclosed = (f"a quoted cell is not closed within {MAX_RECORD_BYTES // 1024} KiB "
                    "or before the end of the file")  # fmt: skip
        return Line(number, end, rejected=rejection(None, None, unclosed))
    return _csv_line(text, header, number, end)


def read_header(raw: bytes) -> list[str]:
    """The CSV header's columns, or BadFile naming the first unknown, repeated or missing one."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadFile("the CSV header is not UTF-8 text") from None
    columns = [c.strip() for c in next(csv.reader([text]), [])]
    for column in columns:
        if column not in COLUMNS:
            shown = column if re.fullmatch(r"[a-z_0-9]{1,40}", column) else column[:8] + "…"
            raise BadFile(f"the CSV header has an unknown column {shown!r}; the columns are "
                          + ", ".join(COLUMNS))  # fmt: skip
        if columns.count(column) > 1:
            raise BadFile(f"the CSV header names the column {column} twice")
    for column in REQUIRED_COLUMNS:
        if column not in columns:
            raise BadFile(f"the CSV header has no column {column}")
    return columns


def _json_line(text: str, number: int, end: int) -> Line:
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError as err:
        # orjson says where (line 1 column 12 (char 11)), never what it read
        return Line(number, end, rejected=rejection(None, None, f"not valid JSON: {err}"))
    if not isinstance(record, dict):
        return Line(
            number, end, rejected=rejection(None, None, "each line must be one JSON object")
        )
    return Line(number, end, record=record)


def _csv_line(text: str, header: list[str], number: int, end: int) -> Line:
    cells = next(csv.reader([text.rstrip("\r\n")]), [])
    if len(cells) != len(header):
        detail = f"the line has {len(cells)} cells, the header {len(header)} columns"
        return Line(number, end, rejected=rejection(None, None, detail))
    record: dict[str, Any] = {}
    subject: dict[str, Any] = {}
    for column, cell in zip(header, cells, strict=True):
        if cell == "":
            continue  # an empty cell is a field left out
        if column in SUBJECT_COLUMNS:
            subject[SUBJECT_COLUMNS[column]] = cell
        elif column in INTEGER_COLUMNS:
            if not _INTEGER.fullmatch(cell):
                bad = rejection(
                    {"record_id": cells[header.index("record_id")]}, column, NUMBER_RULE
                )
                return Line(number, end, rejected=bad)
            record[column] = int(cell)
        else:
            record[column] = cell
    if subject:
        record["subject"] = subject
    return Line(number, end, record=record)
