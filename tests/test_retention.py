"""Retention: records expire by the chain's block time, five years after their adverse event
ended, and are erased by destroying their data keys. Time travels on the embedded chain
(eth-tester) and on anvil; after the sweep no file under the data directory holds the
record's clear text or its destroyed data key, reads say `erased`, and the chain marks the
commitment Expired no earlier than the schedule says."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from node.app import create_app
from node.cli import main as cli
from node.crypto.canonical import canonical_json
from node.db import read_connection
from node.queries.holder import subject_receipts
from node.retention import service
from node.retention.policy import Policy, expiry_of
from node.retention.sweeper import RetentionSweeper
from tests.conftest import authorize, make_settings, node_of, person, rpc, submit

OVERDUE = person(777, event_date="2025-06-30")  # negative: ends on its event_date
LOAN = person(778, kind="loan_opened", event_date="2025-09-01", days_past_due=None)
DEFAULT = person(779, kind="default", event_date="2025-07-31", days_past_due=None)
EXPIRES = expiry_of(dt.date(2025, 6, 30), 5)
FILLER = [person(1000 + i, record_id=f"FILL-{i:04d}", event_date="2026-01-01")
          for i in range(300)]  # so that the store's pages split and move rows  # fmt: skip


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v is not None}


def _stored(node: Any, record_id: str) -> list[Any]:
    with read_connection(node.engine) as conn:
        return conn.exec_driver_sql(
            "SELECT version, wrapped_key, ciphertext, commitment, is_current FROM record "
            "WHERE record_id = ? ORDER BY version",
            (record_id,),
        ).all()


def _files_holding(data: Path, needles: list[bytes]) -> list[str]:
    """Every file under the data directory holding any of `needles`, and which."""
    found = []
    for path in sorted(p for p in data.rglob("*") if p.is_file()):
        content = path.read_bytes()
        found += [f"{path.relative_to(data)}: needle {i}" for i, n in enumerate(needles)
                  if n in content]  # fmt: skip
    return found


def _sweep_story(client: TestClient, travel: Callable[[int], int]) -> None:
    """Submit, anchor, travel to just before and to the expiry, sweep; check everything."""
    node = node_of(client)
    corrected = {**_clean(OVERDUE), "amount_cents": 99_999}
    submit(client, [_clean(OVERDUE), _clean(LOAN), _clean(DEFAULT)] + [_clean(r) for r in FILLER])
    submit(client, [corrected])  # version 2 of the overdue record; version 1 superseded
    node.batcher.drain()
    assert node.index.catch_up(timeout=60)
    sweeper = RetentionSweeper(engine=node.engine, policy=Policy(5, 5))
    sweeper.drain()

    receipt = client.get(f"/v1/records/{OVERDUE['record_id']}/receipt").json()
    clear_texts = [
        canonical_json(receipt["record"]),
        OVERDUE["subject"]["id_number"].encode(),
        OVERDUE["subject"]["name"].encode(),
        orjson.dumps(OVERDUE["subject"]["name"]),
    ]
    versions = _stored(node, OVERDUE["record_id"])
    keys = [v.wrapped_key for v in versions] + [v.ciphertext for v in versions]
    data = node.settings.data
    assert _files_holding(data, keys), "the store holds the keys before: the grep can see them"

    schedule = client.get("/v1/retention/schedule", params={"limit": 1000}).json()
    by_id = {(e["record_id"], e["version"]): e for e in schedule["entries"]}
    assert by_id[(OVERDUE["record_id"], 2)]["expires_at"] == EXPIRES
    assert by_id[(OVERDUE["record_id"], 2)]["ended_on"] == "2025-06-30"
    assert by_id[(LOAN["record_id"], 1)]["negative"] is False
    assert by_id[(LOAN["record_id"], 1)]["expires_at"] == expiry_of(dt.date(2025, 9, 1), 5)
    assert by_id[(DEFAULT["record_id"], 1)]["state"] == "open"  # unpaid: kept until settled

    assert travel(EXPIRES - 1) == EXPIRES - 1
    sweeper.drain()
    assert client.get(f"/v1/records/{OVERDUE['record_id']}").status_code == 200  # not yet

    assert travel(EXPIRES) == EXPIRES
    sweeper.drain()
    registry = node.chain.registry.functions
    v1, v2 = _stored(node, OVERDUE["record_id"])
    assert v2.wrapped_key is None and registry.statusOf(v2.commitment).call() == 0  # key first
    node.batcher.drain()  # sends the Expired mark queued with the erasure
    assert node.index.catch_up(timeout=60)

    for path in ("", "/receipt"):
        gone = client.get(f"/v1/records/{OVERDUE['record_id']}{path}")
        assert gone.status_code == 410 and gone.json()["error"] == "record_erased"
    old = client.get(f"/v1/records/{OVERDUE['record_id']}", params={"version": 1})
    assert old.status_code == 410
    assert client.get(f"/v1/records/{LOAN['record_id']}").status_code == 200  # its own schedule
    assert client.get(f"/v1/records/{DEFAULT['record_id']}").status_code == 200  # open

    at = receipt  # v2's receipt: where it was anchored, and its proof
    proof = [bytes.fromhex(h[2:]) for h in at["proof"]]
    assert registry.statusAt(v2.commitment, at["batch_id"], at["leaf_index"], proof).call() == 4
    assert registry.statusOf(v2.commitment).call() == 0  # the bitmap alone says Expired
    assert registry.statusOf(v1.commitment).call() == 1  # Superseded stays
    assert (v1.wrapped_key, v1.ciphertext, v2.ciphertext) == (None,) * 3

    records, pending, erased = subject_receipts(
        engine=node.engine, keys=node.keys, subject_key=receipt["record"]["subject_key"],
        chain_id=node.chain.chain_id, registry=node.chain.addresses["RecordRegistry"],
    )  # fmt: skip
    assert (records, pending, erased) == ([], 0, [receipt["commitment"]])

    audit = client.get("/v1/retention/erasures").json()
    (e1, e2) = sorted(audit["entries"], key=lambda e: e["version"])
    assert e2["erased_time"] == EXPIRES and e2["on_schedule"] is True
    assert e2["chain"]["status"] == "expired" and e2["chain"]["time"] >= EXPIRES
    assert e1["chain"]["status"] == "superseded" and e1["mark_requested"] is False
    assert audit["counts"]["erased"] == 2

    assert _files_holding(data, clear_texts + keys) == []


def test_time_travel_on_the_embedded_chain_erases_an_expired_record_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(make_settings(tmp_path / "data"), run_batcher=False)
    with TestClient(app) as client:
        authorize(client, "admin")
        node = node_of(client)
        tester = node.chain.client.w3.provider.ethereum_tester  # type: ignore[attr-defined]

        def travel(timestamp: int) -> int:
            with node.chain.client.lock:  # mines a block one second before the time given
                tester.time_travel(timestamp + 1)
            assert node.index.catch_up(timeout=60)
            return service.clock(engine=node.engine)["time"]  # type: ignore[index]

        _sweep_story(client, travel)
        capsys.readouterr()
        assert cli(["retention", "schedule", "--data", str(node.settings.data),
                    "--state", "erased"]) == 0  # fmt: skip
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith(f"as of block {node.index.indexed_block()} (2030-06-30 ")
        assert out[0].endswith("2 erased")
        erased = [line.split() for line in out[2:]]
        assert [(e[0], e[1], e[2], e[4], e[5]) for e in erased] == [
            (OVERDUE["record_id"], v, "overdue", "2025-06-30", "2030-06-30") for v in ("1", "2")
        ]
        assert all(" ".join(e[7:]).startswith("erased at block") for e in erased)


def test_time_travel_on_anvil_erases_an_expired_record_everywhere(
    anvil: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(tmp_path / "data", anvil), run_batcher=False)
    with TestClient(app) as client:
        authorize(client, "admin")
        node = node_of(client)

        def travel(timestamp: int) -> int:
            latest = int(rpc(anvil, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
            rpc(anvil, "evm_increaseTime", [timestamp - latest])
            rpc(anvil, "evm_mine", [timestamp])
            assert node.index.catch_up(timeout=60)
            return service.clock(engine=node.engine)["time"]  # type: ignore[index]

        _sweep_story(client, travel)


def _travel_embedded(node: Any, timestamp: int) -> None:
    tester = node.chain.client.w3.provider.ethereum_tester
    with node.chain.client.lock:
        tester.time_travel(timestamp + 1)
    assert node.index.catch_up(timeout=60)


def test_the_sweeper_erases_and_schedules_on_either_store(store_client: TestClient) -> None:
    node = node_of(store_client)
    submit(store_client, [_clean(OVERDUE), _clean(LOAN)])
    node.batcher.drain()
    sweeper = RetentionSweeper(engine=node.engine, policy=Policy(5, 5))
    sweeper.drain()
    _travel_embedded(node, EXPIRES)
    sweeper.drain()
    node.batcher.drain()
    assert node.index.catch_up(timeout=60)
    assert store_client.get(f"/v1/records/{OVERDUE['record_id']}").status_code == 410
    assert store_client.get(f"/v1/records/{LOAN['record_id']}").status_code == 200
    (erased,) = store_client.get("/v1/retention/erasures").json()["entries"]
    assert erased["on_schedule"] is True and erased["chain"]["status"] == "expired"
    refused = store_client.get("/v1/retention/schedule", params={"state": "gone"})
    assert refused.status_code == 422 and refused.json()["field"] == "state"


def test_a_stop_between_the_erasure_and_the_scrub_is_scrubbed_at_the_next_start(
    node_client: TestClient,
) -> None:
    node = node_of(node_client)
    submit(node_client, [_clean(OVERDUE)])
    (row,) = _stored(node, OVERDUE["record_id"])
    sweeper = RetentionSweeper(engine=node.engine, policy=Policy(5, 5))
    sweeper.drain()
    _travel_embedded(node, EXPIRES)
    assert service.erase_due(engine=node.engine) == 1  # the erasure commits; the node stops
    data = node.settings.data
    assert _files_holding(data, [row.wrapped_key]) != []  # the WAL still holds the old page
    RetentionSweeper(engine=node.engine, policy=Policy(5, 5)).drain()  # started again
    assert _files_holding(data, [row.wrapped_key, row.ciphertext]) == []
    assert node_client.get(f"/v1/records/{OVERDUE['record_id']}").status_code == 410
    (again,) = submit(node_client, [_clean(OVERDUE)])["results"]  # a batch file sent again
    assert again["version"] == 1  # a no-op: the erased record does not come back
    assert node_client.get(f"/v1/records/{OVERDUE['record_id']}").status_code == 410
