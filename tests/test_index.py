"""The node's event index: whole after a kill at any moment, true after a reorg, the same
when rebuilt from block 0, and answering members while the chain is away."""

import random
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from coincurve import PublicKey
from eth_account import Account
from eth_utils import keccak
from fastapi.testclient import TestClient
from web3 import HTTPProvider, Web3

from node.app import create_app
from node.chain.deploy import Founder
from node.chain.events import COLUMNS, ChainReader, EventDecoder
from node.chain.index import EventIndex
from node.chain.setup import Chain, connect_chain, found_consortium
from node.cli import main as cli
from node.db import make_engine
from node.members.router import AS_OF
from node.members.service import member_status
from node.peers.signing import signed_headers
from tests.conftest import (
    ADMIT,
    ANVIL,
    ANVIL_KEY,
    GRANT_AUDITOR,
    REPO,
    authorize,
    bearer,
    free_port,
    make_settings,
    node_of,
    person,
    rpc,
    staff_token_in,
    submit,
    wait_for,
)


def _fresh_index(chain: Chain, store: Path, url: str | None = None) -> EventIndex:
    """A new index in its own store over the same chain, read from block 0."""
    w3 = Web3(HTTPProvider(url)) if url else chain.client.w3
    reader = ChainReader(w3, EventDecoder(chain.addresses, chain.abis), chain.client.lock)
    index = EventIndex(engine=make_engine(store), reader=reader, blocks_per_query=7)
    assert index.catch_up(timeout=120)
    return index


def _admit(client: TestClient, account=None) -> dict:  # type: ignore[no-untyped-def]
    account = account or Account.create()
    key = PublicKey.from_secret(bytes(account.key)).format(compressed=False)
    resp = client.post("/v1/proposals", json={
        "action": "admit", "subject": account.address, "name": f"Lender {account.address[:6]}",
        "public_key": "0x" + key.hex()})  # fmt: skip
    assert resp.status_code == 200, resp.text
    return resp.json()


def _members(client: TestClient) -> tuple[set[str], int]:
    resp = client.get("/v1/members")
    assert resp.status_code == 200, resp.text
    return {m["address"] for m in resp.json()}, int(resp.headers[AS_OF])


def _anvil_node(url: str, data: Path, **kw: object) -> TestClient:
    client = TestClient(create_app(make_settings(data, url, **kw), run_batcher=False))
    client.headers.update(bearer(staff_token_in(data, "admin")))
    return client


# --- a kill at a random moment ----------------------------------------------------------------


class _Traffic:
    """Governance transactions and empty blocks on the chain, from another admin, until
    stopped: new events arrive while the node indexes."""

    def __init__(self, chain: Chain, url: str) -> None:
        self.chain, self.url = chain, url
        self.admitted: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        fns, send = self.chain.consortium.functions, self.chain.client.send
        try:
            for n in range(10**6):
                if self._stop.is_set():
                    return
                account = Account.create()
                key = PublicKey.from_secret(keccak(text=account.address)).format(compressed=False)
                tx = send(fns.propose(ADMIT, account.address, f"L{n}", "", key), gas=600_000)
                assert self.chain.client.wait_receipt(tx) is not None
                self.admitted.append(account.address)
                if n % 3 == 0:
                    send(fns.propose(GRANT_AUDITOR, account.address, "", "", b""), gas=600_000)
                if n % 4 == 0:
                    rpc(self.url, "anvil_mine", ["0x3"])
                self._stop.wait(0.05)
        except BaseException as err:  # the test reports it
            self.error = err

    def __enter__(self) -> "_Traffic":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        assert self.error is None, repr(self.error)


def _rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        sql = f"SELECT {COLUMNS} FROM chain_event ORDER BY block_number, log_index"
        return conn.execute(sql).fetchall()


def _indexed(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COALESCE(MAX(number), -1) FROM chain_block").fetchone()[0]


# The follower alone, as the node runs it, in a process of its own: ranges of a few blocks,
# so that a kill lands between, before or inside the transactions that write them.
_FOLLOWER = """
import sys, threading
from pathlib import Path
from node.chain.cli import open_index
index, _ = open_index(Path(sys.argv[1]), sys.argv[2])
index.blocks_per_query = 5
index.start()
print("following", flush=True)
threading.Event().wait()
"""


def _follower(data: Path, url: str) -> subprocess.Popen:
    log = open(data / "follower.log", "ab")  # the child writes to it
    return subprocess.Popen([sys.executable, "-c", _FOLLOWER, str(data), url], cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip


def test_index_after_kills_at_random_moments_equals_a_fresh_one(anvil, tmp_path):
    data, seed = tmp_path / "data", random.randrange(10**6)
    data.mkdir()
    rng = random.Random(seed)
    founder = Account.from_key(ANVIL_KEY)
    found_consortium(data=data, rpc=anvil, member=founder,
                     founders=[Founder.of(founder, "Founder")], threshold=1)  # fmt: skip
    chain = connect_chain(data=data, rpc=anvil, member=founder, member_name="Founder")
    make_engine(data / "node.db").dispose()  # the store, as a node makes it
    follower = _follower(data, anvil)
    try:
        with _Traffic(chain, anvil):
            for _kill in range(3):
                start = _indexed(data / "node.db")
                wait_for(lambda s=start: _indexed(data / "node.db") > s, 60, "blocks indexed")
                threading.Event().wait(rng.uniform(0, 0.5))
                follower.kill()  # SIGKILL: no clean-up of any kind
                follower.wait(10)
                follower = _follower(data, anvil)
        head = int(rpc(anvil, "eth_blockNumber"), 16)
        wait_for(lambda: _indexed(data / "node.db") >= head, 60, f"index at head {head}")
        fresh = _fresh_index(chain, tmp_path / "fresh.db", anvil)
        assert len(fresh.rows()) > 50
        assert _rows(data / "node.db") == fresh.rows(), f"seed {seed}"
    finally:
        follower.kill()
        follower.wait(10)
        chain.close()


# --- reorgs -----------------------------------------------------------------------------------


def _tx_of(index: EventIndex, proposal_id: int) -> str:
    (created,) = index.read("Consortium", "ProposalCreated", where={"id": proposal_id}).events
    return created.tx_hash


def test_a_reorg_drops_its_events_and_a_reincluded_one_comes_back(anvil, tmp_path):
    data = tmp_path / "data"
    with _anvil_node(anvil, data) as client:
        node = node_of(client)
        kept, dropped, back = Account.create(), Account.create(), Account.create()
        _admit(client, kept)
        tx = _tx_of(node.index, _admit(client, back)["id"])
        raw = rpc(anvil, "eth_getRawTransactionByHash", [tx])
        _admit(client, dropped)
        block_before = node.index.read("Consortium", "ProposalCreated").events[-2].block_hash
        assert {kept.address, dropped.address, back.address} <= _members(client)[0]
        # one member's standing, the read a node makes on every request between nodes
        assert member_status(index=node.index, address=dropped.address) == "active"

        rpc(anvil, "anvil_reorg", [2, []])  # the last two admissions' blocks are replaced
        head = int(rpc(anvil, "eth_blockNumber"), 16)

        def reorg_indexed() -> bool:
            listed, as_of = _members(client)
            return as_of == head and back.address not in listed

        wait_for(reorg_indexed, 30, "the reorg indexed")
        listed, _ = _members(client)
        assert kept.address in listed and dropped.address not in listed
        assert member_status(index=node.index, address=dropped.address) is None
        assert member_status(index=node.index, address=kept.address) == "active"

        rpc(anvil, "eth_sendRawTransaction", [raw])  # the first of the two, mined again
        wait_for(lambda: back.address in _members(client)[0], 30, "the re-inclusion indexed")
        assert dropped.address not in _members(client)[0]
        assert member_status(index=node.index, address=back.address) == "active"
        assert member_status(index=node.index, address=dropped.address) is None
        again = node.index.read("Consortium", "ProposalCreated").events[-1]
        assert again.tx_hash == tx and again.block_hash != block_before

        fresh = _fresh_index(node.chain, tmp_path / "fresh.db")
        assert node.index.catch_up(timeout=60)
        assert node.index.rows() == fresh.rows()

        # rebuilt beside the running node, through the chain's RPC: the same again
        assert cli(["index", "rebuild", "--from", "0", "--data", str(data), "--rpc", anvil]) == 0
        assert node.index.catch_up(timeout=60)
        assert _rows(data / "node.db") == fresh.rows()


def test_with_confirmations_an_event_is_read_once_deep_enough(anvil, tmp_path):
    with _anvil_node(anvil, tmp_path / "data", confirmations=2) as client:
        newcomer = Account.create()
        assert _admit(client, newcomer)["state"] == "executed"  # its own write, answered
        listed, as_of = _members(client)
        assert newcomer.address not in listed
        assert as_of <= int(rpc(anvil, "eth_blockNumber"), 16) - 2
        rpc(anvil, "anvil_mine", ["0x2"])
        wait_for(lambda: newcomer.address in _members(client)[0], 30, "two blocks on top")


# --- rebuilding -------------------------------------------------------------------------------


def test_rebuild_from_block_0_equals_the_live_index(tmp_path, capsys):
    data = tmp_path / "data"
    with TestClient(create_app(make_settings(data), run_batcher=False)) as client:
        authorize(client)
        node = node_of(client)
        for batch in range(3):
            submit(client, [person(10 * batch + i) for i in range(3)])
            node.batcher.drain()
        member = _admit(client)["subject"]
        assert (
            client.post("/v1/proposals", json={"action": "suspend", "subject": member}).json()[
                "state"
            ]
            == "executed"
        )
        assert node.index.catch_up(timeout=60)
        live, live_block = node.index.rows(), node.index.indexed_block()
        assert {"BatchAnchored", "MemberStatusChanged"} <= {row[7] for row in live}
        assert cli(["index", "status", "--data", str(data)]) == 1  # the node holds the chain
        assert "--rpc" in capsys.readouterr().err

    assert cli(["index", "rebuild", "--from", "0", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert f"reading blocks 0..{live_block}" in out and "(100%)" in out
    assert _rows(data / "node.db") == live
    assert cli(["index", "rebuild", "--from", "4", "--data", str(data)]) == 0
    assert _rows(data / "node.db") == live
    assert cli(["index", "status", "--data", str(data)]) == 0
    status = capsys.readouterr().out
    assert f"indexed up to  {live_block}" in status and "lag            0 block(s)" in status


# --- the chain away ---------------------------------------------------------------------------


def test_members_answer_from_the_index_while_the_chain_is_down(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    anvil = subprocess.Popen([str(ANVIL), "--port", str(port), "--silent"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for(lambda: rpc(url, "eth_chainId"), what="anvil")
        with _anvil_node(url, tmp_path / "data") as client:
            newcomer = Account.create()
            _admit(client, newcomer)
            listed, as_of = _members(client)
            anvil.terminate()
            anvil.wait(10)
            with pytest.raises(OSError):
                rpc(url, "eth_blockNumber")  # the chain is away

            assert _members(client) == (listed, as_of)
            assert newcomer.address in listed and as_of > 0
            proposals = client.get("/v1/proposals?all=true")
            assert proposals.status_code == 200 and int(proposals.headers[AS_OF]) == as_of
            assert [p["state"] for p in proposals.json()] == ["executed"]
            chain = node_of(client).chain
            headers = signed_headers(newcomer, chain_id=chain.chain_id,
                                     contract=chain.addresses["Consortium"], method="GET",
                                     path="/v1/peer/hello", body=b"")  # fmt: skip
            assert client.get("/v1/peer/hello", headers=headers).status_code == 200
    finally:
        anvil.terminate()
        anvil.wait(10)


# --- projections ------------------------------------------------------------------------------


class _Recorder:
    """A projection that keeps what the index told it."""

    def __init__(self) -> None:
        self.events: list = []
        self.tips: list = []

    def apply(self, conn, events, tip) -> None:  # type: ignore[no-untyped-def]
        self.events += events
        self.tips.append(("apply", tip))

    def unwind(self, conn, tip) -> None:  # type: ignore[no-untyped-def]
        self.events = [e for e in self.events if tip.number is None or e.block_number <= tip.number]
        self.tips.append(("unwind", tip))


def test_projections_follow_each_range_and_each_rewind_with_the_block_time(node_client, tmp_path):
    node = node_of(node_client)
    submit(node_client, [person(1)])
    node.batcher.drain()
    recorder = _Recorder()
    reader = ChainReader(node.chain.client.w3, EventDecoder(node.chain.addresses, node.chain.abis),
                         node.chain.client.lock)  # fmt: skip
    index = EventIndex(engine=make_engine(tmp_path / "p.db"), reader=reader, blocks_per_query=3,
                       projections=[recorder])  # fmt: skip
    assert index.catch_up(timeout=60)
    head = node.chain.client.w3.eth.get_block("latest")
    assert recorder.tips[-1] == ("apply", (head["number"], head["timestamp"]))
    assert [e.row() for e in recorder.events] == index.rows()

    assert index.rewind(3) == 3
    block_2 = node.chain.client.w3.eth.get_block(2)
    assert recorder.tips[-1] == ("unwind", (2, block_2["timestamp"]))
    assert [e.row() for e in recorder.events] == index.rows()
    assert index.catch_up(timeout=60)
    assert [e.row() for e in recorder.events] == index.rows()
