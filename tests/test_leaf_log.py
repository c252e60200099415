"""Anchoring's log: the batcher writes only its own tables, leaves of any kind are batched
and proven alike, and a store of the earlier schema keeps its receipts when upgraded."""

import copy
import hashlib
import sqlite3
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from node.app import create_app
from node.db import write_transaction
from node.migrations import HERE as MIGRATIONS
from node.receipts.verify import verify_receipt
from tests.conftest import authorize, make_settings, node_of, person, ref_mth, ref_path, submit

RECORDS_TABLES = ("record", "submission")


def _rows(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY 1")]
            for t in RECORDS_TABLES
        }


def _anchor_with_records_locked(engine: Engine, drain) -> None:  # type: ignore[no-untyped-def]
    """Run the batcher while any write to a records table aborts."""
    with engine.begin() as conn:
        for table in RECORDS_TABLES:
            for op in ("INSERT", "UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER lock_{table}_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'anchoring wrote {table}'); END"
                )
    try:
        drain()
    finally:
        with engine.begin() as conn:
            for table in RECORDS_TABLES:
                for op in ("insert", "update", "delete"):
                    conn.exec_driver_sql(f"DROP TRIGGER lock_{table}_{op}")


def test_anchoring_and_superseding_never_write_a_records_table(node_client):
    node = node_of(node_client)
    recs = [person(i) for i in range(5)]
    submit(node_client, recs)
    before = _rows(node.engine)
    _anchor_with_records_locked(node.engine, node.batcher.drain)
    assert _rows(node.engine) == before
    old_receipt = node_client.get(f"/v1/records/{recs[2]['record_id']}/receipt").json()

    corrected = copy.deepcopy(recs[2])
    corrected["days_past_due"] = 60
    assert submit(node_client, [corrected])["results"][0]["version"] == 2
    before = _rows(node.engine)
    _anchor_with_records_locked(node.engine, node.batcher.drain)  # anchor, then supersede
    assert _rows(node.engine) == before

    w3 = node.chain.client.w3
    assert verify_receipt(old_receipt, w3).status == "superseded"
    first = node_client.get(f"/v1/records/{recs[2]['record_id']}?version=1").json()
    assert first["chain_status"] == "superseded"
    current = node_client.get(f"/v1/records/{recs[2]['record_id']}").json()
    assert current["chain_status"] == "active" and current["state"] == "anchored"


def test_leaves_of_another_kind_share_the_batches_and_prove_the_same_way(node_client):
    from node.anchoring import service as anchoring

    node = node_of(node_client)
    queries = [hashlib.sha256(b"query %d" % i).digest() for i in range(3)]
    submit(node_client, [person(1), person(2)])
    with write_transaction(node.engine) as conn:
        first = anchoring.append_leaves(conn, "query", queries, time.time())
    submit(node_client, [person(3)])
    node.batcher.drain()

    registry = node.chain.registry.functions
    record_receipt = node_client.get(f"/v1/records/{person(3)['record_id']}/receipt").json()
    for i, entry in enumerate(queries):
        anchor = anchoring.receipt_anchor(node.engine, first + i)
        assert anchor["batch_id"] == record_receipt["batch_id"]  # one batch for both kinds
        assert anchor["commitment"] == entry and anchor["tree_size"] == 6
        _member, root, size, _prev, _at = registry.getBatch(anchor["batch_id"]).call()
        assert (root, size) == (anchor["root"], 6)
        assert anchor["proof"] == ref_path(anchor["leaf_index"], _batch_leaves(node.engine))
        assert ref_mth(_batch_leaves(node.engine)) == root
    assert verify_receipt(record_receipt, node.chain.client.w3).ok

    with write_transaction(node.engine) as conn:
        anchoring.request_status_change(conn, status="revoked", leaves=[first + 1], now=time.time())
    node.batcher.drain()
    assert registry.statusOf(queries[1]).call() == anchoring.CHAIN_STATUSES.index("revoked")
    assert registry.statusOf(queries[0]).call() == 0
    with node.engine.connect() as conn:
        assert anchoring.status_of(conn, first + 1) == "revoked"
        assert anchoring.status_of(conn, first) == "active"


def _batch_leaves(engine: Engine) -> list[bytes]:
    with engine.connect() as conn:
        return list(conn.exec_driver_sql("SELECT commitment FROM leaf ORDER BY id").scalars())


def _downgrade(db: Path, revision: str) -> None:
    engine = create_engine(f"sqlite:///{db}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
    engine.dispose()


def test_a_store_of_the_earlier_schema_keeps_verifying_receipts_after_the_upgrade(tmp_path):
    settings = make_settings(tmp_path / "data")
    recs = [person(i) for i in range(8)]
    corrected = copy.deepcopy(recs[5])
    corrected["balance_cents"] = 1
    with TestClient(create_app(settings, run_batcher=False)) as client:
        authorize(client)
        submit(client, recs[:4])
        node_of(client).batcher.drain()
        submit(client, recs[4:])
        node_of(client).batcher.drain()
        submit(client, [corrected])
        node_of(client).batcher.drain()
        ids = [r["record_id"] for r in recs]
        receipts = {rid: client.get(f"/v1/records/{rid}/receipt").json() for rid in ids}
        old = client.get(f"/v1/records/{ids[5]}/receipt?version=1").json()

    # The store as the earlier schema holds it: record rows as the leaves, batches of row
    # ranges, the correction as a supersession, the chain status in the record row.
    _downgrade(settings.db_path, "0006")
    with sqlite3.connect(settings.db_path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("0006",)
        assert db.execute("SELECT first_row, last_row FROM batch ORDER BY id").fetchall() == [
            (1, 4),
            (5, 8),
            (9, 9),
        ]
        assert db.execute("SELECT old_row, new_row, state FROM supersession").fetchall() == [
            (6, 9, "done")
        ]
        assert db.execute(
            "SELECT chain_status, COUNT(*) FROM record GROUP BY 1 ORDER BY 1"
        ).fetchall() == [("active", 8), ("superseded", 1)]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "leaf" not in tables and "status_change" not in tables

    with TestClient(create_app(settings, run_batcher=False)) as client:  # upgrades the store
        authorize(client)
        w3 = node_of(client).chain.client.w3
        for rid, receipt in receipts.items():
            again = client.get(f"/v1/records/{rid}/receipt").json()
            assert again == receipt
            assert verify_receipt(again, w3).ok, rid
        assert client.get(f"/v1/records/{ids[5]}/receipt?version=1").json() == old
        assert verify_receipt(old, w3).status == "superseded"
        first = client.get(f"/v1/records/{ids[5]}?version=1").json()
        assert first["chain_status"] == "superseded"
        submit(client, [person(20)])  # the log goes on after the moved rows
        node_of(client).batcher.drain()
        later = client.get(f"/v1/records/{person(20)['record_id']}/receipt").json()
        assert verify_receipt(later, w3).ok and later["leaf_index"] == 0
