"""A consortium on one machine: anvil, the contracts, N members and a node for each.

`creditchain consortium up --members N` starts anvil, its chain kept in DIR/anvil-state.json,
founds the consortium with the first members as founding admins (M of them must vote for any
change), admits the others by vote, and starts one node per member on a loopback port, each
with its own data directory, keys and store. DIR/consortium.json records all of it, so
`status` reports on exactly that, `down` stops exactly that, and `up` again, after `down` or a
crash, brings the same consortium back: the same chain and contracts, ports and data
directories.
"""

import contextlib
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.types import RPCEndpoint

from node.chain.client import ChainClient, ChainError
from node.chain.compile import compile_contracts
from node.chain.deploy import Founder, discover, found, read_chain_file, write_chain_file
from node.chain.setup import connect_chain
from node.files import write_atomically
from node.keys.store import load_secrets
from node.members import service as members

REPO = Path(__file__).resolve().parents[2]
STATE = "consortium.json"
CHAIN_STATE = "anvil-state.json"
SECRET = "consortium.secret"


class ConsortiumError(RuntimeError):
    """The consortium could not be started, found or stopped as asked."""


def anvil_binary() -> Path:
    """anvil itself, not node_modules/.bin/anvil: that is a Node.js wrapper which starts the
    binary as its child, so its pid is not the chain's and stopping it may orphan the chain."""
    base = REPO / "node_modules" / "@foundry-rs"
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
    package = f"anvil-{sys.platform}-{arch.get(platform.machine().lower(), 'unknown')}"
    for candidate in (base / package / "bin" / "anvil", base / "dist" / "anvil"):
        if candidate.is_file():
            return candidate
    raise ConsortiumError("anvil is missing: run scripts/run or scripts/test to install it")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


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


def _member_account(root: Path, data: Path) -> LocalAccount:
    with _consortium_secret(root / SECRET):
        return load_secrets(data / "keys").member


# --- up ------------------------------------------------------------------------------------


def up(root: Path, *, members: int | None = None, founders: int | None = None,
       threshold: int | None = None, progress: Any = print) -> dict[str, Any]:  # fmt: skip
    """Found a consortium in `root` and start it, or bring back the one founded there."""
    root = root.resolve()
    if (root / STATE).exists():
        return _bring_back(root, _load(root), members, founders, threshold, progress)
    members = 3 if members is None else members
    return _found(root, members, 3 if founders is None else founders, threshold, progress)


def _found(root: Path, n: int, founders: int, threshold: int | None,
           progress: Any) -> dict[str, Any]:  # fmt: skip
    if n < 1 or founders < 1:
        raise ConsortiumError("--members and --founders must be at least 1")
    founders = min(founders, n)
    threshold = threshold or founders // 2 + 1
    if not 1 <= threshold <= founders:
        raise ConsortiumError(f"--threshold must be between 1 and {founders}")
    leftovers = [p.name for p in (root / CHAIN_STATE, *root.glob("member-*")) if p.exists()]
    if leftovers:
        raise ConsortiumError(
            f"{root} holds {', '.join(sorted(leftovers))} but no {STATE}: not a consortium "
            "`up` can bring back; move them aside or choose another --dir"
        )
    anvil = anvil_binary()
    root.mkdir(parents=True, exist_ok=True)
    secret_file = root / SECRET
    if not secret_file.exists():
        write_atomically(secret_file, secrets.token_hex(32) + "\n", private=True)
    port = _free_port()
    state: dict[str, Any] = {
        "founded": False, "founders": founders, "threshold": threshold,
        "anvil": {"rpc": f"http://127.0.0.1:{port}", "port": port, "pid": None},
        "members": [],
    }  # fmt: skip
    accounts = []
    for i in range(1, n + 1):
        data = root / f"member-{i}"
        account = _member_account(root, data)
        url = f"http://127.0.0.1:{_free_port()}"
        accounts.append((account, data))
        state["members"].append({"name": f"member-{i}", "address": account.address, "url": url,
                                 "data": str(data), "pid": None})  # fmt: skip
    _save(root, state)
    try:
        w3 = _start_anvil(root, state, anvil, progress)
        for account, _ in accounts:
            w3.provider.make_request(
                RPCEndpoint("anvil_setBalance"), [account.address, hex(10**24)]
            )
        founding = [
            Founder.of(account, m["name"], m["url"])
            for (account, _), m in zip(accounts[:founders], state["members"], strict=False)
        ]
        addresses = found(ChainClient(w3, accounts[0][0]), compile_contracts(), founding, threshold)
        progress("contracts: " + ", ".join(f"{k} {v}" for k, v in addresses.items()))
        for _, data in accounts:
            write_chain_file(data / "chain.json", chain_id=w3.eth.chain_id, contracts=addresses)
        _admit_the_rest(state, accounts, founders, threshold, progress)
        for _, data in accounts:
            _admin_token(data)
        state.update(founded=True, contracts=addresses)
        _save(root, state)
        _start_nodes(root, state, progress)
    except BaseException:
        _stop(root, state, progress=lambda _: None)
        raise
    return state


def _bring_back(root: Path, state: dict[str, Any], n: int | None, founders: int | None,
                threshold: int | None, progress: Any) -> dict[str, Any]:  # fmt: skip
    """The same consortium again, or a one-line refusal before anything is started."""
    if not state.get("founded"):
        raise ConsortiumError(
            f"an earlier `up` in {root} stopped before the consortium was founded: "
            "move the directory aside and run `up` again"
        )
    recorded = {"--members": len(state["members"]), "--founders": state["founders"],
                "--threshold": state["threshold"]}  # fmt: skip
    for option, given in (("--members", n), ("--founders", founders), ("--threshold", threshold)):
        if given is not None and given != recorded[option]:
            raise ConsortiumError(
                f"the consortium in {root} has {option} {recorded[option]}; `up` brings it "
                f"back as it was (leave out {option})"
            )
    anvil_running = _ours(state["anvil"]["pid"], str(root / CHAIN_STATE)) is not None
    stopped = [m for m in state["members"] if _ours(m["pid"], m["data"]) is None]
    running_before = {m["pid"] for m in state["members"] if m not in stopped}
    if anvil_running:
        running_before.add(state["anvil"]["pid"])
    if anvil_running and not stopped:
        raise ConsortiumError(f"the consortium in {root} is already up (`consortium status`)")
    missing = [p for p in (root / CHAIN_STATE, root / SECRET) if not p.exists()]
    for m in state["members"]:
        data = Path(m["data"])
        missing += [p for p in (data / "chain.json", data / "admin.token") if not p.exists()]
    if missing:
        raise ConsortiumError(
            f"cannot bring the consortium in {root} back: {', '.join(map(str, missing))} missing"
        )
    if not anvil_running:
        if _port_in_use(state["anvil"]["port"]):
            raise ConsortiumError(f"the chain's port {state['anvil']['port']} is in use")
        w3 = _start_anvil(root, state, anvil_binary(), progress)
    else:
        w3 = Web3(HTTPProvider(state["anvil"]["rpc"]))
    try:
        _check_contracts(root, state, w3)
        _start_nodes(root, state, progress)
    except BaseException:  # stop what this call started, and only that
        _stop(root, state, progress=lambda _: None, keep=running_before)
        raise
    return state


def _start_anvil(root: Path, state: dict[str, Any], binary: Path, progress: Any) -> Web3:
    """anvil on the recorded port, loading and saving its chain in DIR/anvil-state.json (every
    second, and on exit), so that the chain survives `down` and a crash."""
    port = str(state["anvil"]["port"])
    with open(root / "anvil.log", "ab") as log:
        proc = subprocess.Popen(
            [str(binary), "--host", "127.0.0.1", "--port", port,
             "--state", str(root / CHAIN_STATE), "--state-interval", "1"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    state["anvil"]["pid"] = proc.pid
    _save(root, state)
    probe = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'
    _wait(state["anvil"]["rpc"], 30, f"anvil (see {root / 'anvil.log'})", probe)
    progress(f"anvil on {state['anvil']['rpc']} (pid {proc.pid})")
    return Web3(HTTPProvider(state["anvil"]["rpc"]))


def _check_contracts(root: Path, state: dict[str, Any], w3: Web3) -> None:
    """The chain still holds the consortium every member's chain.json names."""
    client = ChainClient(w3, _member_account(root, Path(state["members"][0]["data"])))
    compiled = compile_contracts()
    for m in state["members"]:
        saved = read_chain_file(Path(m["data"]) / "chain.json")
        assert saved is not None  # checked by the caller
        try:
            discover(client, compiled, saved.consortium)
        except ChainError as err:
            raise ConsortiumError(
                f"the chain in {root / CHAIN_STATE} no longer holds the consortium of "
                f"{m['name']} ({err}); cannot bring it back"
            ) from None


def _start_nodes(root: Path, state: dict[str, Any], progress: Any) -> None:
    rpc = state["anvil"]["rpc"]
    env = {**os.environ, "CREDITCHAIN_CONSORTIUM_SECRET_FILE": str(root / SECRET)}
    for m in state["members"]:
        if _ours(m["pid"], m["data"]) is not None:
            continue
        port = m["url"].rsplit(":", 1)[1]
        if _port_in_use(int(port)):
            raise ConsortiumError(f"the port of {m['name']}, {port}, is in use")
        with open(Path(m["data"]) / "node.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "node.cli", "run", "--data", m["data"], "--rpc", rpc,
                 "--port", port],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )  # fmt: skip
        m["pid"] = proc.pid
        _save(root, state)
    for m in state["members"]:
        _wait(m["url"] + "/openapi.json", 120, f"the node of {m['name']}")
        progress(f"{m['name']} {m['address']} on {m['url']} (admin token in "
                 f"{m['data']}/admin.token)")  # fmt: skip


def _admit_the_rest(state: dict[str, Any], accounts: list[tuple[LocalAccount, Path]],
                    founders: int, threshold: int, progress: Any) -> None:  # fmt: skip
    """Members beyond the founders join by proposal and M votes, as any later member would."""
    rpc = state["anvil"]["rpc"]
    for (account, _), m in list(zip(accounts, state["members"], strict=True))[founders:]:
        proposal = None
        for voter, voter_data in accounts[:threshold]:
            chain = connect_chain(data=voter_data, rpc=rpc, member=voter, member_name="")
            if proposal is None:
                proposal = members.propose(
                    chain=chain, action="admit", subject=account.address, name=m["name"],
                    node_url=m["url"], public_key=Founder.of(account, "").public_key,
                )  # fmt: skip
            else:
                proposal = members.vote(chain=chain, proposal_id=proposal["id"])
        assert proposal is not None
        if proposal["state"] != "executed":
            raise ConsortiumError(f"admitting {m['name']} did not pass: {proposal['state']}")
        progress(f"admitted {m['name']} by {threshold} vote(s)")


def _admin_token(data: Path) -> None:
    """A first admin for each node, its token in DATA/admin.token (0600) for the operator."""
    from node.db import make_engine
    from node.staff import service as staff

    engine = make_engine(data / "node.db")
    try:
        token = staff.add(engine=engine, name="consortium-admin", role="admin").token
    finally:
        engine.dispose()
    write_atomically(data / "admin.token", token + "\n", private=True)


# --- the record, status, down ---------------------------------------------------------------


def _save(root: Path, state: dict[str, Any]) -> None:
    write_atomically(root / STATE, json.dumps(state, indent=2) + "\n")


def _load(root: Path) -> dict[str, Any]:
    try:
        return json.loads((root / STATE).read_text())
    except FileNotFoundError:
        raise ConsortiumError(f"no consortium in {root}: `consortium up` founds one") from None


def _ours(pid: int | None, marker: str) -> psutil.Process | None:
    """The process we started, if it still runs (a reused pid is not ours)."""
    if not pid:
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc if marker in " ".join(proc.cmdline()) else None
    except psutil.Error:
        return None


def status(root: Path) -> list[dict[str, Any]]:
    """anvil and each node recorded in `root`: running or not, answering or not."""
    root = root.resolve()
    state = _load(root)
    anvil = state["anvil"]
    rows = [{"name": "anvil", "address": "", "url": anvil["rpc"],
             "running": _ours(anvil["pid"], str(root / CHAIN_STATE)) is not None}]  # fmt: skip
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
    """Stop exactly what `up` started, keeping everything `up` needs to bring it back;
    returns how many processes were stopped."""
    root = root.resolve()
    return _stop(root, _load(root), progress=progress)


def _stop(root: Path, state: dict[str, Any], *, progress: Any, keep: set[int] | None = None) -> int:
    """The nodes first, then the chain (which saves itself on the way out); not `keep`."""
    stopped = 0
    for group in ([(m, m["data"]) for m in state["members"]],
                  [(state["anvil"], str(root / CHAIN_STATE))]):  # fmt: skip
        group = [(entry, marker) for entry, marker in group if entry["pid"] not in (keep or ())]
        live = [(entry, p) for entry, marker in group if (p := _ours(entry["pid"], marker))]
        for _, p in live:
            p.send_signal(signal.SIGTERM)
        _, alive = psutil.wait_procs([p for _, p in live], timeout=20)
        for p in alive:
            p.kill()
        for entry, _ in live:
            progress(f"stopped {entry.get('name', 'anvil')}")
        for entry, _ in group:
            entry["pid"] = None
        stopped += len(live)
    _save(root, state)
    return stopped
