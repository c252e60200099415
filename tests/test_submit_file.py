"""`creditchain submit FILE`: a lender's batch file, JSON Lines or CSV, sent in submissions,
every rejected line in the feedback file, and a run killed halfway finished by the next one
with every record sent exactly once."""

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from node.crypto.subjects import make_resident_id
from node.db import make_engine
from node.records.batchfile import COLUMNS, BadFile
from node.records.schemas import RecordIn, Subject
from node.records.sending import Sender, Stopped, submit_file
from tests.conftest import (
    REPO,
    free_port,
    node_of,
    person,
    staff_token_in,
    start_node_process,
    wait_for,
    wait_http,
)

NAME = "司马长风"


def send(client: TestClient, path: Path, fmt: str, batch: int = 10_000) -> Any:
    return submit_file(
        path=path,
        fmt=fmt,  # type: ignore[arg-type]
        sender=Sender(client),
        batch=batch,
        state=path.with_name(path.name + ".progress.json"),
        feedback=path.with_name(path.name + ".rejected.csv"),
    )


def feedback(path: Path) -> list[dict[str, str]]:
    with path.with_name(path.name + ".rejected.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def stored(data_or_engine: Any) -> tuple[int, int, int]:
    """Record versions in the store, distinct record ids, and the highest version."""
    engine = (
        data_or_engine
        if not isinstance(data_or_engine, Path)
        else make_engine(data_or_engine / "node.db")
    )
    with engine.connect() as conn:
        return tuple(conn.exec_driver_sql(
            "SELECT COUNT(*), COUNT(DISTINCT record_id), COALESCE(MAX(version), 0) FROM record"
        ).one())  # type: ignore[return-value]  # fmt: skip


def test_a_jsonl_file_is_sent_and_its_bad_lines_named_in_the_feedback_file(node_client, tmp_path):
    bad_id = make_resident_id(8)[:-1] + ("0" if make_resident_id(8)[-1] != "0" else "1")
    lines = [json.dumps(person(i), ensure_ascii=False) for i in range(1, 6)]
    lines[1:1] = ['{"record_id": "J-2", "subject": ']  # line 2: not JSON
    lines[3:3] = [""]  # line 4: blank, skipped
    lines += [
        json.dumps(person(7, amount_cents="100")),  # line 8: a quoted number
        json.dumps(
            person(8, subject={"type": "person", "id_number": bad_id, "name": NAME}),
            ensure_ascii=False,
        ),  # line 9: a wrong check character  # fmt: skip
        "[1, 2]",  # line 10: not an object
    ]
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    done = send(node_client, path, "jsonl", batch=2)

    assert (done.accepted, done.rejected) == (5, 4)
    rows = feedback(path)
    assert [(r["line"], r["field"]) for r in rows] == [
        ("2", ""), ("8", "amount_cents"), ("9", "subject.id_number"), ("10", "")
    ]  # fmt: skip
    assert rows[0]["reason"].startswith("not valid JSON")
    assert rows[1]["record_id"] == "LN-000007-2025-06"
    text = path.with_name(path.name + ".rejected.csv").read_text(encoding="utf-8")
    assert bad_id not in text and NAME not in text
    assert stored(node_of(node_client).engine) == (5, 5, 1)


def test_a_csv_file_is_sent_with_numbers_checked_and_bad_lines_named(node_client, tmp_path):
    header = (
        "record_id,subject_type,id_number,name,kind,account_id,event_date,amount_cents,"
        "days_past_due"
    )
    good = make_resident_id(31)
    path = tmp_path / "records.csv"
    path.write_text(
        "\n".join([
            header,
            f"C-1,person,{good},{NAME},overdue,AC-1,2025-06-30,100,30",
            f"C-2,person,{good},{NAME},overdue,AC-2,2025-06-30,12.50,30",  # not whole cents
            f"C-3,person,{good},,repayment,AC-3,2025-06-30,,",  # empty cells: fields left out
            f"C-4,person,{good}",  # too few cells
            f'C-5,person,{good},"司马, 长风",overdue,AC-5,2025-06-30,7,1x',  # days not a number
            f"C-6,enterprise,{good},,guarantee,AC-6,2025-06-30,100,",  # not a USCC
        ]) + "\n",
        encoding="utf-8",
    )  # fmt: skip

    done = send(node_client, path, "csv")

    assert (done.accepted, done.rejected) == (2, 4)
    rows = feedback(path)
    assert [(r["line"], r["record_id"], r["field"]) for r in rows] == [
        ("3", "C-2", "amount_cents"),
        ("5", "", ""),
        ("6", "C-5", "days_past_due"),
        ("7", "C-6", "subject.id_number"),
    ]
    assert good not in path.with_name(path.name + ".rejected.csv").read_text(encoding="utf-8")
    record = node_client.get("/v1/records/C-3").json()["record"]
    assert record["kind"] == "repayment" and "amount_cents" not in record


def test_a_quoted_csv_cell_with_a_line_break_is_one_record_named_by_its_first_line(
    node_client, tmp_path
):
    """RFC 4180: a quoted cell may hold a line break. The record spans the lines and is judged
    whole (no field takes a line break, so its name is refused), and the records after it are
    read as written; a quote never closed is named, not read on past the file's end."""
    good = make_resident_id(32)
    path = tmp_path / "records.csv"
    path.write_bytes(
        "\r\n".join([
            "record_id,subject_type,id_number,name,kind,account_id,event_date",
            f'Q-1,person,{good},"{NAME}\r\n{NAME}",repayment,AC-1,2025-06-30',  # lines 2-3
            f'Q-2,person,{good},"{NAME} ""Jr"", 长风",repayment,AC-2,2025-06-30',  # line 4
            f'Q-3,person,{good},"{NAME}',  # line 5: never closed
            "Q-4,person,x,y,repayment,AC-4,2025-06-30",  # read into Q-3's cell, not on its own
        ]).encode() + b"\r\n"
    )  # fmt: skip

    done = send(node_client, path, "csv")

    rows = feedback(path)
    assert (done.accepted, done.rejected) == (1, 2), rows
    assert done.line == 6  # a rerun goes on after the file's last physical line
    assert [(r["line"], r["record_id"], r["field"]) for r in rows] == [
        ("2", "Q-1", "subject.name"),
        ("5", "", ""),
    ]
    assert "not closed" in rows[1]["reason"]
    assert node_client.get("/v1/records/Q-2").json()["record"]["account_id"] == "AC-2"
    assert node_client.get("/v1/records/Q-4").status_code == 404


def test_the_csv_columns_are_every_field_of_the_record(tmp_path):
    fields = {f for f in RecordIn.model_fields if f != "subject"}
    subject = {"subject_type" if f == "type" else f for f in Subject.model_fields}
    assert set(COLUMNS) == fields | subject


def test_a_csv_header_with_an_unknown_column_is_refused_before_anything_is_sent(
    node_client, tmp_path
):
    path = tmp_path / "records.csv"
    path.write_text("record_id,subject_type,id_number,kind,account_id,event_date,religion\n")
    with pytest.raises(BadFile, match="unknown column 'religion'"):
        send(node_client, path, "csv")
    assert stored(node_of(node_client).engine)[0] == 0


def test_a_file_changed_after_it_was_sent_is_not_resumed(node_client, tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(person(i)) + "\n" for i in range(1, 4)))
    send(node_client, path, "jsonl")
    path.write_text("".join(json.dumps(person(i, amount_cents=1)) + "\n" for i in range(1, 4)))
    with pytest.raises(BadFile, match="changed since it was sent"):
        send(node_client, path, "jsonl")
    assert stored(node_of(node_client).engine) == (3, 3, 1)


def test_lines_appended_to_a_file_already_sent_are_sent_on_the_next_run(node_client, tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(person(i)) + "\n" for i in range(1, 4)))
    send(node_client, path, "jsonl")
    with path.open("a") as f:
        f.write(json.dumps(person(4)) + "\n")
    done = send(node_client, path, "jsonl")
    assert (done.line, done.accepted) == (4, 4)
    assert stored(node_of(node_client).engine) == (4, 4, 1)


def test_feedback_rows_of_a_submission_never_confirmed_are_not_kept_twice(node_client, tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text("{not json\n" + json.dumps(person(1)) + "\n")
    send(node_client, path, "jsonl")
    fb = path.with_name(path.name + ".rejected.csv")
    with fb.open("a", encoding="utf-8") as f:  # as a run killed before its progress was saved
        f.write("3,LN-X,amount_cents,written before the kill\n")
    with path.open("a") as f:
        f.write(json.dumps(person(2, amount_cents="3")) + "\n")
    done = send(node_client, path, "jsonl")
    assert [(r["line"], r["field"]) for r in feedback(path)] == [("1", ""), ("3", "amount_cents")]
    assert (done.accepted, done.rejected) == (1, 2)


def _submit_cli(path: Path, url: str, token_file: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "node.cli", "submit", str(path), "--url", url,
         "--token-file", str(token_file), *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "CREDITCHAIN_TOKEN": ""},
    )  # fmt: skip


def test_submit_killed_halfway_and_run_again_sends_every_record_exactly_once(tmp_path):
    data, port = tmp_path / "data", free_port()
    node = start_node_process(data, port, "--workers", "0", log=tmp_path / "node.log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz")
        token_file = tmp_path / "token"
        token_file.write_text(staff_token_in(data, "submitter") + "\n")
        total = 300
        path = tmp_path / "records.jsonl"
        path.write_text("".join(json.dumps(person(i)) + "\n" for i in range(1, total + 1)))
        state = tmp_path / "records.jsonl.progress.json"

        first = _submit_cli(path, url, token_file, "--batch", "3")
        wait_for(lambda: state.exists() and json.loads(state.read_text())["line"] > 0,
                 what="the first confirmed submission")  # fmt: skip
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert first.returncode == -signal.SIGKILL
        halfway = json.loads(state.read_text())
        assert 0 < halfway["line"] < total  # killed halfway, not after the end

        second = _submit_cli(path, url, token_file, "--batch", "50")
        out, err = second.communicate(timeout=300)
        assert second.returncode == 0, err
        assert f"sent through line {total:,}" in out
        assert json.loads(state.read_text())["line"] == total
        rows = feedback(path)
        assert rows == []
        # every record once, none corrected into a version 2
        assert stored(data) == (total, total, 1)
    finally:
        node.send_signal(signal.SIGINT)
        node.wait(30)


def test_submit_without_a_token_is_bad_input_and_sends_nothing(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps(person(1)) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "node.cli", "submit", str(path), "--url", "http://127.0.0.1:9"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**os.environ, "CREDITCHAIN_TOKEN": ""},
    )  # fmt: skip
    assert done.returncode == 2
    assert "CREDITCHAIN_TOKEN" in done.stderr
    assert not (tmp_path / "records.jsonl.progress.json").exists()


def test_submit_to_a_node_that_is_not_there_keeps_nothing_and_says_so(tmp_path, monkeypatch):
    from node.records import sending

    monkeypatch.setattr(sending, "RETRY_DELAYS", ())
    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps(person(1)) + "\n")

    with httpx.Client(base_url=f"http://127.0.0.1:{free_port()}") as client:
        with pytest.raises(sending.Stopped) as info:
            submit_file(path=path, fmt="jsonl", sender=Sender(client), batch=10,
                        state=tmp_path / "s.json", feedback=tmp_path / "f.csv")  # fmt: skip
    assert info.value.unreachable
    assert not (tmp_path / "s.json").exists()


def test_a_busy_node_is_asked_again_and_a_refused_token_stops_the_run(tmp_path):
    answers = [httpx.Response(503, headers={"Retry-After": "7"}), None]
    waited: list[float] = []

    def node(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if answer is not None:
            return answer
        records = json.loads(request.content)["records"]
        return httpx.Response(200, json={"results": [
            {"status": "accepted", "record_id": r["record_id"]} for r in records]})  # fmt: skip

    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps(person(1)) + "\n")
    with httpx.Client(transport=httpx.MockTransport(node), base_url="http://node") as client:
        sender = Sender(client, sleep=waited.append)
        done = submit_file(path=path, fmt="jsonl", sender=sender, batch=10,
                           state=tmp_path / "s.json", feedback=tmp_path / "f.csv")  # fmt: skip
    assert (done.accepted, waited) == (1, [7.0])

    refused = httpx.Response(401, json={"error": "invalid_token", "detail": "no such token"})
    path.write_text(json.dumps(person(2)) + "\n")
    with httpx.Client(transport=httpx.MockTransport(lambda _: refused), base_url="http://n") as c:
        with pytest.raises(Stopped, match="401 invalid_token") as info:
            submit_file(path=path, fmt="jsonl", sender=Sender(c), batch=10,
                        state=tmp_path / "s2.json", feedback=tmp_path / "f2.csv")  # fmt: skip
    assert not info.value.unreachable
    assert not (tmp_path / "s2.json").exists()
