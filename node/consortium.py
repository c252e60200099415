"""A consortium on one machine: anvil, the contracts, N members and a node for each.

`creditchain consortium up --members N` starts anvil, deploys the contracts with the first
members as founding admins (M of them must vote for any change), admits the others by vote,
and starts one node per member on a loopback port, each with its own data directory, keys
and store. Everything it started is written to DIR/consortium.json, so `status` can report
on exactly that and `down` can stop exactly that.
"""

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
from coincurve import PublicKey
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.types import RPCEndpoint

from node.chain.client import ChainClient
from node.chain.compile import compile_contracts
from node.chain.setup import connect_chain
from node.members import service as members
from node.secrets import load_secrets

REPO = Path(__file__).resolve().parent.parent
ANVIL = REPO / "node_modules" / ".bin" / "anvil"
STATE = "consortium.json"


class ConsortiumError(RuntimeError):
    """The consortium could not be started, found or stopped as asked."""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, timeout: float, what: str, body: bytes | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise ConsortiumError(f"{what} did not come up within {timeout:.0f}s")


@contextlib.contextmanager
def _consortium_secret(path: Path) -> Iterator[None]:
    """Every member's keys share the consortium secret kept beside them, not one of their own."""
    name = "CREDITCHAIN_CONSORTIUM_SECRET_FILE"
    before = os.environ.get(name)
    os.environ[name] = str(path)
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


def _env(root: Path) -> dict[str, str]:
    return {**os.environ, "CREDITCHAIN_CONSORTIUM_SECRET_FILE": str(root / "consortium.secret")}


def _founders_deploy(
    client: ChainClient, founders: list[tuple[LocalAccount, str, str]], threshold: int
) -> dict[str, str]:
    compiled = compile_contracts()
    consortium = client.deploy(
        compiled["Consortium"]["abi"],
        compiled["Consortium"]["bytecode"],
        [a.address for a, _, _ in founders],
        [name for _, name, _ in founders],
        [url for _, _, url in founders],
        [_public_key(a) for a, _, _ in founders],
        threshold,
        gas=8_000_000,
    )
    registry = client.deploy(
        compiled["RecordRegistry"]["abi"], compiled["RecordRegistry"]["bytecode"], consortium
    )
    return {"Consortium": consortium, "RecordRegistry": registry}


def _public_key(account: LocalAccount) -> bytes:
    return PublicKey.from_secret(bytes(account.key)).format(compressed=False)


def up(root: Path, *, members: int, founders: int = 3, threshold: int | None = None,
       progress: Any = print) -> dict[str, Any]:  # fmt: skip
    """Start anvil and `members` nodes under `root`; return what was started."""
    if members < 1:
        raise ConsortiumError("--members must be at least 1")
    if (root / STATE).exists():
        raise ConsortiumError(f"a consortium is already up in {root}: run `consortium down`")
    if not ANVIL.exists():
        raise ConsortiumError("anvil is missing: run scripts/run or scripts/test to install it")
    founders = min(founders, members)
    threshold = threshold or founders // 2 + 1
    if not 1 <= threshold <= founders:
        raise ConsortiumError(f"--threshold must be between 1 and {founders}")
    root.mkdir(parents=True, exist_ok=True)
    secret_file = root / "consortium.secret"
    if not secret_file.exists():
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    state: dict[str, Any] = {"root": str(root), "members": [], "threshold": threshold}

    port = _free_port()
    anvil_log = open(root / "anvil.log", "ab")
    anvil = subprocess.Popen(
        [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--state",
         str(root / "anvil-state.json")],
        stdout=anvil_log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    rpc = f"http://127.0.0.1:{port}"
    state["anvil"] = {"pid": anvil.pid, "rpc": rpc}
    _save(root, state)
    try:
        probe = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'
        _wait(rpc, 30, "anvil", probe)
        progress(f"anvil on {rpc}")
        w3 = Web3(HTTPProvider(rpc))
        accounts = []
        for i in range(1, members + 1):
            data = root / f"member-{i}"
            with _consortium_secret(secret_file):
                account = load_secrets(data / "keys").member
            w3.provider.make_request(
                RPCEndpoint("anvil_setBalance"), [account.address, hex(10**24)]
            )
            node_port = _free_port()
            accounts.append((account, f"member-{i}", f"http://127.0.0.1:{node_port}", data))
        addresses = _founders_deploy(
            ChainClient(w3, accounts[0][0]),
            [(a, n, u) for a, n, u, _ in accounts[:founders]],
            threshold,
        )
        progress(f"contracts: Consortium {addresses['Consortium']}, "
                 f"RecordRegistry {addresses['RecordRegistry']}")  # fmt: skip
        chain_id = w3.eth.chain_id
        for _, _, _, data in accounts:
            (data / "chain.json").write_text(json.dumps(
                {"chain_id": chain_id, "contracts": addresses, "deployer": accounts[0][0].address,
                 "deployed_at": time.time()}, indent=2))  # fmt: skip
        _admit_the_rest(rpc, accounts, founders, threshold, root, progress)
        for account, name, url, data in accounts:
            _admin_token(data)
            node_port = int(url.rsplit(":", 1)[1])
            log = open(data / "node.log", "ab")
            proc = subprocess.Popen(
                [sys.executable, "-m", "node.cli", "run", "--data", str(data), "--rpc", rpc,
                 "--port", str(node_port)],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=_env(root),
                start_new_session=True,
            )  # fmt: skip
            state["members"].append({"name": name, "address": account.address, "url": url,
                                     "pid": proc.pid, "data": str(data)})  # fmt: skip
            _save(root, state)
        for m in state["members"]:
            _wait(m["url"] + "/openapi.json", 120, f"the node of {m['name']}")
            progress(f"{m['name']} {m['address']} on {m['url']} (admin token in "
                     f"{m['data']}/admin.token)")  # fmt: skip
    except BaseException:
        down(root, progress=lambda _: None)
        raise
    return state


def _admit_the_rest(rpc: str, accounts: list, founders: int, threshold: int, root: Path,
                    progress: Any) -> None:  # fmt: skip
    """Members beyond the founders join by proposal and M votes, as any later member would."""
    for account, name, url, _data in accounts[founders:]:
        proposal = None
        for voter, _, _, voter_data in accounts[:threshold]:
            chain = connect_chain(data=voter_data, rpc=rpc, member=voter, member_name="")
            if proposal is None:
                proposal = members.propose(
                    chain=chain, action="admit", subject=account.address, name=name,
                    node_url=url, public_key=_public_key(account),
                )  # fmt: skip
            else:
                proposal = members.vote(chain=chain, proposal_id=proposal["id"])
        assert proposal is not None
        if proposal["state"] != "executed":
            raise ConsortiumError(f"admitting {name} did not pass: {proposal['state']}")
        progress(f"admitted {name} by {threshold} vote(s)")


def _admin_token(data: Path) -> None:
    """A first admin for each node, its token in DATA/admin.token (0600) for the operator."""
    from node.db import make_engine
    from node.staff import service as staff

    engine = make_engine(data / "node.db")
    try:
        token = staff.add(engine=engine, name="consortium-admin", role="admin").token
    finally:
        engine.dispose()
    fd = os.open(data / "admin.token", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")


def _save(root: Path, state: dict[str, Any]) -> None:
    tmp = root / (STATE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, root / STATE)


def _load(root: Path) -> dict[str, Any]:
    try:
        return json.loads((root / STATE).read_text())
    except FileNotFoundError:
        raise ConsortiumError(f"no consortium is up in {root}") from None


def _ours(pid: int, marker: str) -> psutil.Process | None:
    """The process we started, if it still runs (a reused pid is not ours)."""
    try:
        proc = psutil.Process(pid)
        return proc if marker in " ".join(proc.cmdline()) else None
    except psutil.Error:
        return None


def status(root: Path) -> list[dict[str, Any]]:
    """Each node started by `up`: running or not, answering or not."""
    state = _load(root)
    rows = []
    anvil = state.get("anvil", {})
    rows.append({"name": "anvil", "address": "", "url": anvil.get("rpc", ""),
                 "running": _ours(anvil.get("pid", 0), "anvil") is not None})  # fmt: skip
    for m in state["members"]:
        running = _ours(m["pid"], m["data"]) is not None
        answering = False
        if running:
            try:
                with urllib.request.urlopen(m["url"] + "/openapi.json", timeout=2) as resp:
                    answering = resp.status == 200
            except OSError:
                pass
        rows.append({**m, "running": running, "answering": answering})
    return rows


def down(root: Path, *, progress: Any = print) -> int:
    """Stop exactly what `up` started; returns how many processes were stopped."""
    state = _load(root)
    procs = [(m["name"], _ours(m["pid"], m["data"])) for m in state["members"]]
    anvil = state.get("anvil")
    if anvil:
        procs.append(("anvil", _ours(anvil["pid"], "anvil")))
    live = [(n, p) for n, p in procs if p is not None]
    for _, p in live:
        p.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs([p for _, p in live], timeout=20)
    for p in alive:
        p.kill()
    for name, _ in live:
        progress(f"stopped {name}")
    (root / STATE).unlink()
    return len(live)
