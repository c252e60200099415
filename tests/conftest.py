"""Fixtures used across the suite: a node on the embedded chain or on anvil, record makers,
the RFC 9162 reference and a kit for contract tests."""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import eth_tester
import pytest
from coincurve import PublicKey
from eth_abi import abi
from eth_account import Account
from eth_tester.backends.pyevm.main import get_default_account_keys
from eth_tester.exceptions import TransactionFailed
from eth_utils import keccak
from fastapi.testclient import TestClient
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from node.app import create_app
from node.chain.client import ChainClient
from node.chain.compile import compile_contracts
from node.chain.deploy import Founder, found
from node.chain.setup import found_consortium
from node.config import Settings
from node.consortium.launcher import anvil_binary
from node.crypto.subjects import make_resident_id, make_uscc
from node.db import make_engine
from node.keys.store import load_secrets
from node.staff import service as staff
from tests.postgres_kit import drop_database, fresh_database, postgresql_server

REPO = Path(__file__).resolve().parent.parent
ANVIL = anvil_binary()  # the binary itself, not the Node.js wrapper in node_modules/.bin


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rpc(url: str, method: str, params: list | None = None) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    req = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        answer = json.loads(resp.read())
    if "error" in answer:
        raise RuntimeError(answer["error"])
    return answer["result"]


def wait_for(predicate, timeout: float = 30, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


@contextlib.contextmanager
def anvil_chain(*options: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """A fresh anvil dev chain on a free loopback port (with anvil's `options`), its URL and
    process (to stop it early), stopped on leaving."""
    port = free_port()
    proc = subprocess.Popen(
        [str(ANVIL), "--port", str(port), "--host", "127.0.0.1", "--silent", *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: rpc(url, "eth_chainId"), timeout=30, what="anvil")
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def anvil() -> Iterator[str]:
    """A fresh anvil dev chain on a free loopback port, stopped after the test."""
    with anvil_chain() as (url, _):
        yield url


def person(seq: int, **overrides: Any) -> dict[str, Any]:
    """A valid overdue record about a synthetic person."""
    record = {
        "record_id": f"LN-{seq:06d}-2025-06",
        "subject": {"type": "person", "id_number": make_resident_id(seq), "name": f"测试{seq}"},
        "kind": "overdue",
        "account_id": f"LN-{seq:06d}",
        "event_date": "2025-06-30",
        "amount_cents": 123450 + seq,
        "currency": "CNY",
        "days_past_due": 95,
    }
    record.update(overrides)
    return record


def enterprise(seq: int, **overrides: Any) -> dict[str, Any]:
    record = {
        "record_id": f"EN-{seq:06d}",
        "subject": {"type": "enterprise", "id_number": make_uscc(seq), "name": f"测试公司{seq}"},
        "kind": "guarantee",
        "account_id": f"GT-{seq:06d}",
        "event_date": "2025-05-01",
        "amount_cents": 5_000_000,
    }
    record.update(overrides)
    return record


def make_settings(data: Path, rpc_url: str | None = None, **kw: Any) -> Settings:
    """Settings for a test node. A node never deploys on a JSON-RPC chain by itself, so with
    `rpc_url` a data directory without chain.json (and no `consortium` given) first founds a
    consortium of one there, as `creditchain consortium found` does."""
    if rpc_url and "consortium" not in kw and not (data / "chain.json").exists():
        found_alone(data, rpc_url)
    base = dict(data=data, rpc=rpc_url, batch_size=1000, batch_interval=0.01, workers=0)
    base.update(kw)
    return Settings(**base)


def found_alone(data: Path, rpc_url: str, name: str = "test member") -> dict[str, str]:
    """Found a consortium of one on the chain at `rpc_url`, its admin the member key of
    `data` (made if missing); the contracts' addresses by name."""
    member = load_secrets(data / "keys").member
    founders = [Founder.of(member, name)]
    _, addresses = found_consortium(
        data=data, rpc=rpc_url, member=member, founders=founders, threshold=1
    )
    return addresses


@pytest.fixture
def node_client(tmp_path: Path) -> Iterator[TestClient]:
    """A node on a fresh embedded chain, called as its admin; the test drives its batcher
    with drain()."""
    app = create_app(make_settings(tmp_path / "data"), run_batcher=False)
    with TestClient(app) as client:
        authorize(client, "admin")
        yield client


@contextlib.contextmanager
def members_on_anvil(root: Path, names: list[str]) -> Iterator[tuple[str, list[TestClient]]]:
    """Member nodes in this process on one fresh anvil chain, each called as its admin and
    sharing one consortium secret: the first founds the consortium alone (M = 1) and admits
    the others. The chain's URL and the clients, in the order of `names` (data dirs under
    `root`)."""
    env = "CREDITCHAIN_CONSORTIUM_SECRET_FILE"
    (root / "consortium.secret").write_text(os.urandom(32).hex() + "\n")
    before = os.environ.get(env)
    os.environ[env] = str(root / "consortium.secret")
    try:
        with contextlib.ExitStack() as stack:
            url, _ = stack.enter_context(anvil_chain())
            first = stack.enter_context(
                TestClient(create_app(make_settings(root / names[0], url), run_batcher=False))
            )
            authorize(first)
            consortium = node_of(first).chain.addresses["Consortium"]
            clients = [first]
            for name in names[1:]:
                member = load_secrets(root / name / "keys").member
                key = PublicKey.from_secret(bytes(member.key)).format(compressed=False)
                admitted = first.post("/v1/proposals", json={
                    "action": "admit", "subject": member.address, "name": name,
                    "public_key": "0x" + key.hex()})  # fmt: skip
                assert admitted.json()["state"] == "executed", admitted.text
                settings = make_settings(root / name, url, consortium=consortium)
                client = stack.enter_context(TestClient(create_app(settings, run_batcher=False)))
                authorize(client)
                clients.append(client)
            yield url, clients
    finally:
        if before is None:
            os.environ.pop(env, None)
        else:
            os.environ[env] = before


# --- Chromium, headless -------------------------------------------------------------------------

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # for a readable screenshot


def install_chromium() -> None:
    """Debian's Chromium, its WebDriver and a Chinese font, from apt, unless they are there."""
    if CHROMIUM.exists() and DRIVER.exists() and CJK_FONT.exists():
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"],
                ["apt-get", "install", "-y", "--no-install-recommends", "chromium",
                 "chromium-driver", "fonts-wqy-microhei"]):  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def headless_chromium(profile: Path, window: tuple[int, int], downloads: Path | None = None) -> Any:
    """Headless Chromium driven by Selenium (installed first when missing); quit it after."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    install_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}",
                 f"--window-size={window[0]},{window[1]}"):  # fmt: skip
        options.add_argument(flag)
    if downloads is not None:
        prefs = {"download.default_directory": str(downloads),
                 "download.prompt_for_download": False}  # fmt: skip
        options.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    if downloads is not None:
        driver.execute_cdp_cmd("Page.setDownloadBehavior",
                               {"behavior": "allow", "downloadPath": str(downloads)})  # fmt: skip
    return driver


# --- the store: SQLite and PostgreSQL -----------------------------------------------------------


@pytest.fixture(scope="session")
def postgresql() -> Iterator[str]:
    """One real PostgreSQL for the session (see tests/postgres_kit.py); its admin URL."""
    with postgresql_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store, once SQLite (DATA/node.db's place) and once PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'node.db'}"
        return
    server = request.getfixturevalue("postgresql")
    url = fresh_database(server)
    yield url
    drop_database(server, url)


@pytest.fixture
def store_client(tmp_path: Path, store: str) -> Iterator[TestClient]:
    """node_client, on each store in turn."""
    app = create_app(make_settings(tmp_path / "data", store=store), run_batcher=False)
    with TestClient(app) as client:
        authorize(client, "admin")
        yield client


def node_of(client: TestClient):  # type: ignore[no-untyped-def]
    return client.app.state.node


def staff_token(client: TestClient, role: str, name: str | None = None) -> str:
    """A new staff account of `role` on the client's node; its token."""
    name = name or f"{role}-{staff.count(engine=node_of(client).engine) + 1}"
    return staff.add(engine=node_of(client).engine, name=name, role=role).token


def authorize(client: TestClient, role: str = "admin", name: str | None = None) -> str:
    """Make the client call as a new staff account of `role`; its token."""
    token = staff_token(client, role, name)
    client.headers["Authorization"] = f"Bearer {token}"
    return token


def staff_token_in(
    data: Path, role: str = "admin", name: str | None = None, store: str | None = None
) -> str:
    """A new staff account in the store under `data`, or at `store` (the node may be running
    or not)."""
    engine = make_engine(Settings(data=data, store=store).store_url)
    try:
        name = name or f"{role}-{staff.count(engine=engine) + 1}"
        return staff.add(engine=engine, name=name, role=role).token
    finally:
        engine.dispose()


def whole_operator_log(client: Any, page: int = 1000) -> list[dict]:
    """The whole operator log, read page by page as the client's staff account (each read is
    logged too, so stop at the first page that is not full)."""
    entries: list[dict] = []
    after = 0
    while True:
        answer = client.get("/v1/operator-log", params={"after_id": after, "limit": page})
        assert answer.status_code == 200, answer.text
        entries += answer.json()["entries"]
        if len(answer.json()["entries"]) < page:
            return entries
        after = answer.json()["next_after_id"]


def refused_changes(engine: Any, statements: list[str]) -> list[str]:
    """Run each statement in its own transaction, as anyone with the store's password could;
    the store's refusal of each (the message its rule raised), or "done" if it let it through."""
    from sqlalchemy.exc import DBAPIError

    said = []
    for statement in statements:
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(statement)
            said.append("done")
        except DBAPIError as err:
            said.append(str(err.orig).splitlines()[0].strip())
    return said


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def submit(client: TestClient, records: list[dict[str, Any]]) -> dict[str, Any]:
    resp = client.post("/v1/records", json={"records": records})
    assert resp.status_code == 200, resp.text
    return resp.json()


def start_node_process(
    data: Path, port: int, *extra: str, log: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """The real node, as scripts/run starts it, in a child process."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "node.cli",
            "run",
            "--data",
            str(data),
            "--port",
            str(port),
            "--batch-interval",
            "0.05",
            *extra,
        ],
        cwd=REPO,
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )


def wait_http(url: str, timeout: float = 60, headers: dict[str, str] | None = None) -> None:
    def answers() -> bool:
        req = urllib.request.Request(url, headers=headers or {})
        return urllib.request.urlopen(req, timeout=2).status == 200

    wait_for(answers, timeout, url)


def call_api(
    url: str, token: str | None, body: Any = None, method: str = "POST", timeout: float = 60
) -> tuple[int, Any]:
    """A node's answer over HTTP: status and JSON body (errors too)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data, headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def store_has(data: str, sql: str, *args: Any) -> bool:
    """Whether a member's store holds a row (read-only; the node keeps running)."""
    with sqlite3.connect(f"file:{data}/node.db?mode=ro", uri=True) as conn:
        return conn.execute(sql, args).fetchone() is not None


@contextlib.contextmanager
def consortium_up(root: Path, members: int) -> Iterator[dict[str, Any]]:
    """`creditchain consortium up`: anvil and `members` member nodes under `root`; its state
    (consortium.json), each member with its admin `token`; taken down on leaving."""
    cli = [sys.executable, "-m", "node.cli", "consortium"]
    up = subprocess.run([*cli, "up", "--members", str(members), "--dir", str(root)], cwd=REPO,
                        capture_output=True, text=True, timeout=600)  # fmt: skip
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        state = json.loads((root / "consortium.json").read_text())
        for m in state["members"]:
            m["token"] = (Path(m["data"]) / "admin.token").read_text().strip()
        yield state
    finally:
        subprocess.run([*cli, "down", "--dir", str(root)], cwd=REPO, capture_output=True,
                       timeout=120)  # fmt: skip


# --- RFC 9162 §2.1 reference, written as the RFC defines it (for Merkle and contract tests) ---


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(n: int) -> int:
    """Largest power of two strictly below n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(entries: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH, written as the RFC defines it."""
    n = len(entries)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + entries[0])
    k = _split(n)
    return _sha256(b"\x01" + ref_mth(entries[:k]) + ref_mth(entries[k:]))


def ref_path(m: int, entries: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]), written as the RFC defines it."""
    n = len(entries)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return ref_path(m, entries[:k]) + [ref_mth(entries[k:])]
    return ref_path(m - k, entries[k:]) + [ref_mth(entries[:k])]


# --- contract test kit: an in-memory chain with the contracts, and revert decoding ---------

# anvil's first well-known dev account; a public test key, never to be used outside tests.
ANVIL_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ZERO = b"\x00" * 32

ACTIVE, SUPERSEDED, DISPUTED, REVOKED, EXPIRED = range(5)  # RecordRegistry.RecordStatus
M_ACTIVE, M_SUSPENDED, M_REMOVED = 1, 2, 3  # Consortium.MemberStatus
ADMIT, SUSPEND, REINSTATE, REMOVE = 0, 1, 2, 3  # Consortium.Action
GRANT_AUDITOR, GRANT_REGULATOR, REVOKE_AUDITOR, REVOKE_REGULATOR = 4, 5, 6, 7
ADMIN, AUDITOR, REGULATOR = 0, 1, 2  # Consortium.Role; bit 1 << role in getMember's roles


def pubkey(address: str) -> bytes:
    """A valid uncompressed secp256k1 public key, the same for the same address."""
    return PublicKey.from_secret(keccak(text=address)).format(compressed=False)


def commitments(n: int, tag: bytes = b"c") -> list[bytes]:
    return [hashlib.sha256(tag + i.to_bytes(4, "big")).digest() for i in range(n)]


# --- custom errors ----------------------------------------------------------------------------


def revert_data(exc: BaseException) -> bytes:
    """The raw revert data of a failed call or transaction.

    JSON-RPC nodes (anvil, Besu) make web3 raise ContractCustomError with `data` as 0x-hex.
    web3's EthereumTesterProvider raises eth_tester's TransactionFailed instead, whose message
    holds only the repr of the revert bytes: "execution reverted: b'...'".
    """
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    message = str(exc.args[0]) if exc.args else ""
    literal = message.removeprefix("execution reverted: ")
    if literal[:2] in ("b'", 'b"'):
        value = ast.literal_eval(literal)
        if isinstance(value, bytes):
            return value
    raise AssertionError(f"no revert data in {exc!r}")


def assert_reverts(action: Callable[[], Any], signature: str, *args: Any) -> None:
    """`action` reverts with the custom error `signature`, e.g. "EmptyBatch()", and `args`."""
    with pytest.raises((ContractCustomError, TransactionFailed)) as info:
        action()
    data = revert_data(info.value)
    assert data[:4] == keccak(text=signature)[:4], signature
    types = [t for t in signature[signature.index("(") + 1 : -1].split(",") if t]
    decoded = abi.decode(types, data[4:])
    expected = tuple(a.lower() if isinstance(a, str) else a for a in args)
    assert tuple(d.lower() if isinstance(d, str) else d for d in decoded) == expected


# --- chain fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def compiled() -> dict[str, dict]:
    return compile_contracts()


@pytest.fixture(scope="session")
def relay_artefact() -> dict:
    """StatusRelay (tests/contracts): stands in for a consortium contract that sets statuses."""
    return compile_contracts(sources_dir=REPO / "tests" / "contracts")["StatusRelay"]


def in_memory_chain() -> Web3:
    return Web3(EthereumTesterProvider(eth_tester.EthereumTester(eth_tester.PyEVMBackend())))


def found_on_tester(
    w3: Web3, compiled: dict[str, dict], founders: list[Founder], threshold: int
) -> dict[str, Contract]:
    """The consortium's contracts by name, deployed by node/chain/deploy.py's `found` from the
    eth-tester's first account, as every node and `consortium up` deploy them."""
    (key,) = get_default_account_keys(quantity=1)
    client = ChainClient(w3, Account.from_key(key.to_bytes()))
    addresses = found(client, compiled, founders, threshold)
    return {
        name: w3.eth.contract(address=a, abi=compiled[name]["abi"]) for name, a in addresses.items()
    }


def founder_list(*accounts: str) -> list[Founder]:
    """Founding admins `accounts`, named and keyed as `founders` names and keys them."""
    return [Founder(*row) for row in zip(*founders(*accounts), strict=True)]


@dataclass
class Chain:
    w3: Web3
    consortium: Contract
    registry: Contract
    admin: str
    member: str
    other: str
    outsider: str

    def send(self, fn: Any, sender: str) -> Any:
        """Transact and return the receipt (the eth-tester accounts are unlocked)."""
        return self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))


def propose(
    c: Chain,
    sender: str,
    action: int,
    subject: str,
    name: str = "",
    url: str = "",
    key: bytes = b"",
) -> tuple[int, Any]:
    """`sender` proposes `action` on `subject`; returns (proposal id, receipt)."""
    fn = c.consortium.functions.propose(action, subject, name, url, key)
    receipt = c.send(fn, sender)
    (event,) = c.consortium.events.ProposalCreated().process_receipt(receipt, DISCARD)
    return event.args.id, receipt


def admit(c: Chain, sender: str, member: str, name: str) -> tuple[int, Any]:
    """Proposes admitting `member`, with a URL and a key derived from its name and address."""
    url = f"http://{name.lower().replace(' ', '-')}.example:8700"
    return propose(c, sender, ADMIT, member, name, url, pubkey(member))


def founders(*accounts: str) -> tuple[list[str], list[str], list[str], list[bytes]]:
    """Constructor lists for founding admins `accounts`: addresses, names, URLs, keys."""
    names = [f"Founder {i}" for i in range(len(accounts))]
    urls = [f"http://127.0.0.1:{8701 + i}" for i in range(len(accounts))]
    return list(accounts), names, urls, [pubkey(a) for a in accounts]


def deploy(w3: Web3, artefact: dict, *args: Any, sender: str) -> Contract:
    factory = w3.eth.contract(abi=artefact["abi"], bytecode=artefact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.constructor(*args).transact({"from": sender})
    )
    assert receipt.status == 1
    return w3.eth.contract(address=receipt.contractAddress, abi=artefact["abi"])


@pytest.fixture
def chain(compiled: dict[str, dict]) -> Chain:
    """A consortium of one founding admin (M = 1) and two admitted members."""
    w3 = in_memory_chain()
    admin, member, other, outsider = w3.eth.accounts[:4]
    founder = Founder(admin, "Founding Lender", "", pubkey(admin))
    contracts = found_on_tester(w3, compiled, [founder], 1)
    c = Chain(
        w3, contracts["Consortium"], contracts["RecordRegistry"], admin, member, other, outsider
    )
    admit(c, admin, member, "Member Lender")
    admit(c, admin, other, "Other Lender")
    return c


def anchor(c: Chain, sender: str, leaves: list[bytes], prev: bytes = ZERO) -> tuple[int, Any]:
    """Anchor `leaves` as one batch; returns (batch id, receipt)."""
    receipt = c.send(c.registry.functions.anchorBatch(ref_mth(leaves), len(leaves), prev), sender)
    (event,) = c.registry.events.BatchAnchored().process_receipt(receipt)
    return event.args.batchId, receipt


# --- compiling --------------------------------------------------------------------------------


# --- borrowers ----------------------------------------------------------------------------------


def bind_borrower(client: TestClient, address: str, id_number: str | None = None) -> Any:
    """POST /v1/bindings as the client's staff: `address` bound to a synthetic person."""
    body = {
        "subject": {"type": "person", "id_number": id_number or make_resident_id(7)},
        "address": address,
    }
    return client.post("/v1/bindings", json=body)
