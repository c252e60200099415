"""Sending a batch file to a node, resumably: the work behind `creditchain submit`.

The file goes in submissions of at most 10,000 records (POST /v1/records). After each one
the node has answered, the rejected lines are appended to the feedback file, flushed to disk,
and then the progress file is replaced atomically with the byte offset and line reached, a
SHA-256 of every byte before it, and the feedback file's length. A run stopped anywhere,
SIGKILL included, starts again at the first line not confirmed: feedback rows written after
the last confirmation are cut off, and a submission that was sent but not confirmed is sent
again, which the node answers as a no-op (the same record_id with the same content). The
digest refuses to resume a file that changed; lines appended to a file already sent are sent
on the next run.
"""

import csv
import hashlib
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from node.files import write_atomically
from node.records.batchfile import BadFile, FileFormat, Line, read_lines

STATE_SUFFIX, FEEDBACK_SUFFIX = ".progress.json", ".rejected.csv"
FEEDBACK_COLUMNS = ("line", "record_id", "field", "reason")
MAX_BODY = 32 * 2**20  # bytes of records in one submission, below the node's 64 MiB default
RETRY_DELAYS = (1, 2, 4, 8, 16, 30, 30, 30)  # seconds between attempts while the node is away
_EMPTY = hashlib.sha256().hexdigest()


class Stopped(Exception):
    """The node refused the submission or could not be reached; what it confirmed is kept.
    `unreachable` tells the two apart."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


@dataclass
class Progress:
    """What the progress file holds: how far the node has confirmed the file."""

    offset: int = 0  # bytes of the file confirmed
    line: int = 0  # the last line confirmed (1 is the first)
    prefix_sha256: str = _EMPTY  # of the file's first `offset` bytes
    feedback_bytes: int = 0  # the feedback file's length at that point
    submissions: int = 0
    accepted: int = 0
    rejected: int = 0


@dataclass
class _Chunk:
    lines: list[int] = field(default_factory=list)  # the line of each record
    records: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    size: int = 0
    end: int = 0
    last_line: int = 0


def load_progress(state: Path, file: Path) -> tuple[Progress, Any]:
    """The progress of an earlier run on `file` (none: from the start) and a digest of the
    bytes before it, or BadFile if the file no longer starts with the bytes that were sent."""
    digest = hashlib.sha256()
    if not state.exists():
        return Progress(), digest
    try:
        progress = Progress(**json.loads(state.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as err:
        raise BadFile(
            f"cannot read {state}: {err}; remove it to send {file} from the start"
        ) from None
    with file.open("rb") as f:
        left = progress.offset
        while left > 0:
            block = f.read(min(left, 2**20))
            if not block:
                break
            digest.update(block)
            left -= len(block)
    if left > 0 or digest.hexdigest() != progress.prefix_sha256:
        raise BadFile(
            f"{file} changed since it was sent up to line {progress.line}: its first "
            f"{progress.offset:,} bytes differ. Send the corrected lines in a new file, or "
            f"remove {state} to send this one from the start (records the node already "
            "holds unchanged are not stored twice)"
        )
    return progress, digest


class Sender:
    """POST /v1/records through `client` (its base URL and token set), retrying while the node
    is away or busy, and stopping on a refusal."""

    def __init__(self, client: httpx.Client, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client, self.sleep = client, sleep

    def post(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = orjson.dumps({"records": records})
        headers = {"Content-Type": "application/json"}
        for delay in (*RETRY_DELAYS, None):
            try:
                resp = self.client.post("/v1/records", content=body, headers=headers)
            except httpx.TransportError as err:
                if delay is None:
                    raise Stopped(f"could not reach the node: {err}", unreachable=True) from None
                self.sleep(delay)
                continue
            if resp.status_code == 200:
                results: list[dict[str, Any]] = resp.json()["results"]
                if len(results) != len(records):
                    raise Stopped("the node answered another number of results than records sent")
                return results
            if resp.status_code in (429, 502, 503, 504) and delay is not None:
                self.sleep(_retry_after(resp, delay))
                continue
            raise Stopped(_refusal(resp), unreachable=resp.status_code >= 500)
        raise AssertionError("unreachable")


def _retry_after(resp: httpx.Response, default: float) -> float:
    """The seconds the node asked to wait (Retry-After in seconds), at most 5 minutes."""
    try:
        return min(max(float(resp.headers.get("Retry-After", default)), 0.0), 300.0)
    except ValueError:  # an HTTP date, or nonsense
        return default


def _refusal(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        why = f"{body['error']}: {body['detail']}"
    except (ValueError, KeyError, TypeError):
        why = resp.reason_phrase
    hint = " (a smaller --batch sends less at once)" if resp.status_code == 413 else ""
    return f"the node refused the submission ({resp.status_code} {why}){hint}"


def _feedback_rows(chunk: _Chunk, results: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    rows = [(n, r["record_id"], r["field"], r["detail"]) for n, r in chunk.rejected]
    rows += [
        (n, r.get("record_id"), r.get("field"), r.get("detail"))
        for n, r in zip(chunk.lines, results, strict=True)
        if r["status"] == "rejected"
    ]
    return sorted(rows, key=lambda row: row[0])


def _open_feedback(path: Path, progress: Progress) -> io.TextIOWrapper:
    """The feedback file, cut back to what the last confirmed submission left (a fresh run:
    a new file with its header)."""
    if progress.offset == 0 or not path.exists():
        f = path.open("w", encoding="utf-8", newline="")
        csv.writer(f).writerow(FEEDBACK_COLUMNS)
        return f
    f = path.open("r+", encoding="utf-8", newline="")
    f.truncate(max(progress.feedback_bytes, 0))
    f.seek(0, os.SEEK_END)
    return f


def submit_file(
    *,
    path: Path,
    fmt: FileFormat,
    sender: Sender,
    batch: int,
    state: Path,
    feedback: Path,
    shown: Callable[[Progress], None] | None = None,
) -> Progress:
    """Send `path` from where the last run stopped; the progress at the end."""
    progress, digest = load_progress(state, path)
    if shown is not None:
        shown(progress)
    with path.open("rb") as f, _open_feedback(feedback, progress) as out:
        writer = csv.writer(out)
        chunk = _Chunk()

        def confirm() -> None:
            nonlocal chunk
            results = sender.post(chunk.records) if chunk.records else []
            rows = _feedback_rows(chunk, results)
            writer.writerows(rows)
            out.flush()
            os.fsync(out.fileno())
            progress.offset, progress.line = chunk.end, chunk.last_line
            progress.prefix_sha256 = digest.hexdigest()
            progress.feedback_bytes = os.fstat(out.fileno()).st_size
            progress.submissions += 1 if chunk.records else 0
            progress.accepted += len(chunk.records) - (len(rows) - len(chunk.rejected))
            progress.rejected += len(rows)
            write_atomically(state, json.dumps(asdict(progress)) + "\n")
            if shown is not None:
                shown(progress)
            chunk = _Chunk()

        line: Line
        for line in read_lines(
            f, fmt, start=progress.offset, first_line=progress.line + 1, digest=digest
        ):
            chunk.end, chunk.last_line = line.end, line.last
            if line.record is not None:
                chunk.records.append(line.record)
                chunk.lines.append(line.number)
                chunk.size += len(orjson.dumps(line.record))
            elif line.rejected is not None:
                chunk.rejected.append((line.number, line.rejected))
            full = len(chunk.records) >= batch or chunk.size >= MAX_BODY
            if full or len(chunk.rejected) >= batch:
                confirm()
        if chunk.end > progress.offset:
            confirm()
    return progress
