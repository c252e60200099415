"""The node as an operator runs it (a real process): restart, SIGKILL, the verifier CLI,
and identity never leaving the node in clear."""

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from web3 import HTTPProvider, Web3

from node.chain.compile import compile_contracts
from node.receipts.verify import verify_receipt
from tests.conftest import (
    REPO,
    bearer,
    free_port,
    person,
    staff_token_in,
    start_node_process,
    wait_for,
    wait_http,
)

REGISTRY_ABI = compile_contracts()["RecordRegistry"]["abi"]


def get(url: str, token: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers=bearer(token) if token else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def post_records(base: str, records: list[dict], token: str) -> dict:
    body = json.dumps({"records": records}).encode()
    headers = {"Content-Type": "application/json", **bearer(token)}
    req = urllib.request.Request(base + "/v1/records", body, headers)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


class RunningNode:
    """A node process on `data`, called by a staff account of `role` made before it starts."""

    def __init__(
        self, data: Path, log: Path, *extra: str, role: str = "admin", store: str | None = None
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = staff_token_in(data, role, store=store)
        stored = ("--store", store) if store else ()
        self.proc = start_node_process(data, self.port, *extra, *stored, log=log)
        wait_http(self.base + "/v1/chain", timeout=120, headers=bearer(self.token))

    def get(self, path: str) -> tuple[int, dict]:
        return get(self.base + path, self.token)

    def post_records(self, records: list[dict]) -> dict:
        return post_records(self.base, records, self.token)

    def settle(self, timeout: float = 120) -> dict:
        """Wait until nothing is pending; the status then."""
        wait_for(lambda: self.get("/v1/status")[1]["pending"] == 0, timeout, "anchoring")
        return self.get("/v1/status")[1]

    def w3(self) -> Web3:
        return Web3(HTTPProvider(self.base + "/rpc"))

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(30)


def test_embedded_chain_keeps_anchored_batches_across_a_restart(tmp_path):
    data, log = tmp_path / "data", tmp_path / "node.log"
    node = RunningNode(data, log)
    node.post_records([person(i) for i in range(20)])
    node.settle()
    receipt = node.get(f"/v1/records/{person(3)['record_id']}/receipt")[1]
    block = node.get("/v1/chain")[1]["latest_block"]
    node.stop()

    node = RunningNode(data, log)
    try:
        info = node.get("/v1/chain")[1]
        assert info["latest_block"] == block
        assert verify_receipt(receipt, node.w3()).ok
        node.post_records([person(i) for i in range(20, 25)])
        node.settle()
        later = node.get(f"/v1/records/{person(21)['record_id']}/receipt")[1]
        assert verify_receipt(later, node.w3()).ok
        registry = node.w3().eth.contract(address=later["registry"], abi=REGISTRY_ABI)
        assert registry.functions.lastRoot(info["member"]).call().hex() == later["root"][2:]
    finally:
        node.stop()


def test_sigkill_at_any_moment_loses_no_accepted_record(tmp_path, store):
    data, log = tmp_path / "data", tmp_path / "node.log"
    rng = random.Random(7)
    accepted: set[str] = set()
    seq = 0
    for _round in range(4):
        node = RunningNode(data, log, "--batch-size", "40", store=store)
        stop, answered = threading.Event(), threading.Event()

        def feed(
            base: str = node.base,
            token: str = node.token,
            stop: threading.Event = stop,
            answered: threading.Event = answered,
        ) -> None:
            nonlocal seq
            while not stop.is_set():
                batch = [person(seq + i) for i in range(60)]
                seq += 60
                try:
                    answer = post_records(base, batch, token)
                except (OSError, http.client.HTTPException):
                    return  # killed mid-request: not acknowledged, so not counted
                accepted.update(r["record_id"] for r in answer["results"])
                answered.set()

        feeder = threading.Thread(target=feed)
        feeder.start()
        # The kill comes at a random moment of a steady stream of submissions: counted from
        # the node's first answer of the round, however long a loaded machine takes to it.
        assert answered.wait(120), "the node answered no submission within 120 s"
        threading.Event().wait(rng.uniform(0.3, 1.5))
        node.proc.kill()  # SIGKILL: no clean-up of any kind
        node.proc.wait(30)
        stop.set()
        feeder.join(60)

    node = RunningNode(data, log, store=store)
    try:
        status = node.settle()
        assert len(accepted) > 200
        w3 = node.w3()
        for rid in accepted:
            code, _ = node.get(f"/v1/records/{rid}/receipt")
            assert code == 200, rid
        for rid in rng.sample(sorted(accepted), 25):
            receipt = node.get(f"/v1/records/{rid}/receipt")[1]
            assert verify_receipt(receipt, w3).ok, rid
        # exactly once: the chain's batches hold every stored record once, no more
        registry = w3.eth.contract(address=receipt["registry"], abi=REGISTRY_ABI)
        count = registry.functions.batchCount().call()
        on_chain = sum(registry.functions.getBatch(i).call()[2] for i in range(1, count + 1))
        assert on_chain == status["anchored"] >= len(accepted)
        assert count == status["batches"]
    finally:
        node.stop()


@pytest.fixture(scope="module")
def anchored_node(tmp_path_factory):
    """One node with a few anchored records, its data dir and log, shared by the checks below."""
    tmp = tmp_path_factory.mktemp("node")
    node = RunningNode(tmp / "data", tmp / "node.log", "--log-level", "debug")
    records = [person(i) for i in range(900, 910)]
    bad = person(911)
    bad["subject"]["id_number"] = bad["subject"]["id_number"][:-1] + (
        "0" if bad["subject"]["id_number"][-1] != "0" else "1"
    )
    answer = node.post_records(records + [bad])
    assert answer["accepted"] == 10
    node.settle()
    yield node, records + [bad], tmp
    node.stop()


def _verify_cli(receipt: dict, tmp: Path, rpc: str) -> subprocess.CompletedProcess:
    path = tmp / "receipt.json"
    path.write_text(json.dumps(receipt))
    return subprocess.run(
        [sys.executable, "-m", "node.cli", "verify", str(path), "--rpc", rpc],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_verify_cli_accepts_a_true_receipt_and_says_what_failed_on_a_false_one(anchored_node):
    node, records, tmp = anchored_node
    rpc = node.base + "/rpc"
    receipt = node.get(f"/v1/records/{records[4]['record_id']}/receipt")[1]
    ok = _verify_cli(receipt, tmp, rpc)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VERIFIED" in ok.stdout and "active" in ok.stdout

    tampered_record = json.loads(json.dumps(receipt))
    tampered_record["record"]["days_past_due"] = 1
    tampered_salt = dict(receipt, salt="0x" + "11" * 32)
    tampered_path = dict(receipt, proof=receipt["proof"][:-1] + ["0x" + "22" * 32])
    missing_batch = dict(receipt, batch_id=receipt["batch_id"] + 1000)
    for bad, failed in [
        (tampered_record, "commitment"),
        (tampered_salt, "commitment"),
        (tampered_path, "path"),
        (missing_batch, "batch"),
    ]:
        out = _verify_cli(bad, tmp, rpc)
        assert out.returncode == 1, out.stdout
        assert f"FAIL {failed}" in out.stdout and "NOT VERIFIED" in out.stdout


def test_identity_and_tokens_are_never_in_the_logs_the_store_or_the_chain_in_clear(
    anchored_node,
):
    node, records, tmp = anchored_node
    for rec in records:  # the reads an operator would do, so their paths are exercised too
        node.get(f"/v1/records/{rec['record_id']}")
        node.get(f"/v1/records/{rec['record_id']}/receipt")
    secrets = [node.token.encode(), node.token.split("_", 2)[2].encode()]
    for rec in records:
        id_number, name = rec["subject"]["id_number"], rec["subject"]["name"]
        secrets += [
            id_number.encode(),
            id_number.lower().encode(),
            name.encode("utf-8"),
            name.encode("utf-16-le"),
        ]
    files = [p for p in (tmp).rglob("*") if p.is_file()]
    assert any(p.name == "node.db" for p in files) and any("chain" in str(p) for p in files)
    for path in files:
        blob = path.read_bytes()
        for secret in secrets:
            assert secret not in blob, f"identity found in clear in {path.relative_to(tmp)}"
    # and nothing on chain carries it: every anchoring transaction's input
    w3 = node.w3()
    for number in range(w3.eth.block_number + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            for secret in secrets:
                assert secret not in bytes(tx["input"])
    assert os.path.getsize(tmp / "node.log") > 0


def test_worker_processes_answer_like_the_api_process(anchored_node):
    """The node prepares submissions in worker processes; answers must not change."""
    node, _records, _tmp = anchored_node
    for body in (b"not json", b'{"records": []}', b'{"records": [1], "more": 2}'):
        req = urllib.request.Request(
            node.base + "/v1/records",
            body,
            {"Content-Type": "application/json", **bearer(node.token)},
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=30)
        assert err.value.code == 422
        assert json.loads(err.value.read())["error"] == "invalid_body"
    bad = person(950, kind="bankruptcy")
    answer = node.post_records([person(951), bad])
    assert [r["status"] for r in answer["results"]] == ["accepted", "rejected"]
    assert answer["results"][1]["field"] == "kind"


def test_sigkill_leaves_no_worker_process_behind(tmp_path):
    import psutil

    node = RunningNode(tmp_path / "data", tmp_path / "node.log", "--workers", "2")
    node.post_records([person(1)])
    workers = psutil.Process(node.proc.pid).children(recursive=True)
    assert len(workers) >= 2
    node.proc.kill()
    node.proc.wait(30)
    gone, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive


def test_a_killed_worker_is_replaced_and_the_submission_still_answered(tmp_path):
    import psutil

    node = RunningNode(tmp_path / "data", tmp_path / "node.log", "--workers", "1")
    try:
        node.post_records([person(1)])
        killed = 0
        for worker in psutil.Process(node.proc.pid).children(recursive=True):
            if "spawn_main" in " ".join(worker.cmdline()):
                worker.kill()
                killed += 1
        assert killed == 1
        threading.Event().wait(0.5)
        answer = node.post_records([person(2), person(3)])
        assert answer["accepted"] == 2
        status = node.settle()
        assert status["anchored"] == 3
        assert "a submission worker died" in (tmp_path / "node.log").read_text()
    finally:
        node.stop()
