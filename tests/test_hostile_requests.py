"""Nothing a stranger sends can stop the node: bodies nested too deep, calls that never end,
bodies too large or of the wrong type. Crashes and freezes are watched on a real node process."""

import contextlib
import http.client
import json
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from node.staff import service as staff
from tests.conftest import (
    REPO,
    bearer,
    free_port,
    make_settings,
    person,
    staff_token_in,
    start_node_process,
    wait_for,
    wait_http,
)

LOOP = "0x5b600056"  # JUMPDEST PUSH1 0 JUMP: init code that loops until its gas is gone
MiB = 2**20


class Node:
    """A node process started with CREDITCHAIN_* settings in its environment."""

    def __init__(self, tmp: Path, **settings: str) -> None:
        data = tmp / "data"
        self.log = tmp / "node.log"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = staff_token_in(data, "admin")
        env = {f"CREDITCHAIN_{k.upper()}": v for k, v in settings.items()}
        self.proc = start_node_process(data, self.port, log=self.log, env=env)
        wait_http(self.base + "/v1/chain", timeout=120, headers=bearer(self.token))

    def call(self, method: str, path: str, body: Any = None, timeout: float = 30) -> tuple:
        """(status, answer) of one request with the admin's token; a JSON body as given."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **bearer(self.token)}
        req = urllib.request.Request(self.base + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def rpc(self, method: str, params: list, timeout: float = 120) -> dict:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        return self.call("POST", "/rpc", body, timeout=timeout)[1]

    def peak_rss(self) -> int:
        """The process's largest resident set so far, in bytes (VmHWM)."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        line = next(ln for ln in status.splitlines() if ln.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except Exception:
            self.proc.kill()
            self.proc.wait(30)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    # time, not gas, stops the endless calls here, however fast this machine runs the EVM
    running = Node(tmp_path, rpc_evm_timeout="12", rpc_gas_cap=str(10**15))
    yield running
    running.stop()


def _raw_post(port: int, path: str, headers: dict[str, str], chunks: Iterable[bytes]) -> tuple:
    """POST with a chunked body from `chunks`, stopping as soon as the node answers or cuts
    the connection: (status or None, answer or None, body bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "node", **headers}.items())
    sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode())
    sent = 0
    try:
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the node has answered (or closed): stop sending
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        else:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # cut off by the node
    try:
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        return resp.status, json.loads(resp.read()), sent
    except (OSError, http.client.HTTPException):
        return None, None, sent
    finally:
        sock.close()


def _endless_call(node: Node) -> threading.Thread:
    """A stranger's eth_call of an endless loop, running (for a second already) in the
    background."""

    def call() -> None:
        with contextlib.suppress(OSError, http.client.HTTPException):
            node.rpc("eth_call", [{"data": LOOP, "gas": hex(10**12)}, "latest"])

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(1)
    return thread


# --- no crash from a body ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/rpc", "/v1/staff"])
def test_a_body_nested_100000_deep_is_refused_and_the_node_lives_on(node, path):
    deep = b"[" * 100_000 + b"]" * 100_000
    status, answer = node.call("POST", path, deep)
    if path == "/rpc":
        assert status == 200 and answer["error"] == {"code": -32700, "message": "parse error"}
    else:
        assert status == 422 and answer["error"] == "invalid_body"
        status, answer = node.call("POST", "/v1/proposals", b'{"action": ' + deep + b"}")
        assert status == 422 and answer["error"] == "invalid_body"
    assert node.proc.poll() is None, "the node died"
    assert node.call("GET", "/v1/chain")[0] == 200
    assert node.rpc("eth_chainId", [])["result"] == "0x539"


# --- no freeze from a call ---------------------------------------------------------------------


def test_a_call_that_never_ends_neither_freezes_the_api_nor_holds_up_anchoring(node):
    assert node.rpc("eth_call", [{"data": "0x00"}, "latest"])["result"] == "0x"  # calls run
    outcome: dict[str, Any] = {}

    def attack() -> None:
        started = time.monotonic()
        outcome["answer"] = node.rpc("eth_call", [{"data": LOOP, "gas": hex(10**12)}, "latest"])
        outcome["seconds"] = time.monotonic() - started

    attacker = threading.Thread(target=attack)
    attacker.start()
    time.sleep(1)  # the loop is running now
    try:
        started = time.monotonic()
        assert node.call("GET", "/v1/status", timeout=10)[0] == 200
        assert node.rpc("eth_blockNumber", [], timeout=10)["result"].startswith("0x")
        assert time.monotonic() - started < 5, "the API waited for the call"
        status, answer = node.call("POST", "/v1/records", {"records": [person(1)]}, timeout=10)
        assert status == 200 and answer["accepted"] == 1
        wait_for(lambda: node.call("GET", "/v1/status")[1]["pending"] == 0, 9, "anchoring")
        assert attacker.is_alive(), "anchoring was only done once the call had ended"
    finally:
        attacker.join(60)
    # the call itself was stopped at its time limit (12 s here) and said so
    assert outcome["answer"]["error"] == {
        "code": -32000,
        "message": "execution aborted (timeout = 12s)",
    }
    assert outcome["seconds"] < 40
    # and the next call finds a fresh process
    assert node.rpc("eth_call", [{"data": "0x00"}, "latest"])["result"] == "0x"


def test_calls_waiting_behind_a_long_one_are_bounded(node):
    """Calls take turns; past 32 waiting, more are refused at once instead of piling up."""
    assert node.rpc("eth_call", [{"data": "0x00"}, "latest"])["result"] == "0x"
    loop = _endless_call(node)
    answers: list[dict] = []

    def call() -> None:
        answers.append(node.rpc("eth_call", [{"data": "0x00"}, "latest"]))

    callers = [threading.Thread(target=call) for _ in range(40)]
    for caller in callers:
        caller.start()
    wait_for(lambda: len(answers) >= 9, 10, "the calls over the bound to be refused")
    refused_at_once = list(answers)  # while the long call still runs
    assert all(a["error"]["code"] == -32005 for a in refused_at_once)
    for thread in [loop, *callers]:
        thread.join(120)
    assert sum("result" in a for a in answers) == 31  # they ran once the long one was stopped


def test_a_node_killed_mid_call_leaves_no_process_behind(node):
    import psutil

    workers = set(psutil.Process(node.proc.pid).children(recursive=True))  # started with it
    assert node.rpc("eth_call", [{"data": "0x00"}, "latest"])["result"] == "0x"
    loop = _endless_call(node)
    children = psutil.Process(node.proc.pid).children(recursive=True)
    spawned = [c for c in children if "spawn_main" in " ".join(c.cmdline()) and c not in workers]
    assert len(spawned) == 1, "the call runs in a process of its own"
    node.proc.kill()  # SIGKILL: the node cannot stop anything
    node.proc.wait(30)
    _, alive = psutil.wait_procs(children, timeout=20)
    assert not alive
    loop.join(60)


def test_calls_on_rpc_are_capped_in_gas(tmp_path):
    from fastapi.testclient import TestClient

    from node.app import create_app

    settings = make_settings(tmp_path / "data", rpc_gas_cap=1_000_000, rpc_evm_timeout=120)
    with TestClient(create_app(settings, run_batcher=False)) as client:
        call = {"jsonrpc": "2.0", "id": 1, "method": "eth_call"}
        warm = client.post("/rpc", json={**call, "params": [{"data": "0x00"}, "latest"]})
        assert warm.json()["result"] == "0x"
        started = time.monotonic()
        params = [{"data": LOOP, "gas": hex(300_000_000)}, "latest"]  # a minute or more uncapped
        answer = client.post("/rpc", json={**call, "params": params}).json()
        assert "error" in answer
        assert time.monotonic() - started < 10, "ran on past the gas cap"


def test_eth_get_logs_is_capped_in_blocks(node_client):
    call = {"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs"}
    logs = node_client.post("/rpc", json={**call, "params": [{"fromBlock": "0x0"}]}).json()
    assert logs["result"], "the contracts' deployment logs"
    too_many = [{"fromBlock": "0x0", "toBlock": hex(10**9)}]
    answer = node_client.post("/rpc", json={**call, "params": too_many}).json()
    assert answer["error"]["code"] == -32005
    assert "at most 1000" in answer["error"]["message"]


def test_precompiles_still_work_under_the_recursion_limit(node_client):
    """ecMul recurses once per scalar bit: -1 * G, the deepest, still answers -G."""
    p = 21888242871839275222246405745257275088696311157297823662689037894645226208583
    n = 21888242871839275222246405745257275088548364400416034343698204186575808495617
    data = "0x" + (1).to_bytes(32, "big").hex() + (2).to_bytes(32, "big").hex()
    data += (n - 1).to_bytes(32, "big").hex()
    call = {"jsonrpc": "2.0", "id": 1, "method": "eth_call"}
    params = [{"to": "0x" + "00" * 19 + "07", "data": data}, "latest"]
    answer = node_client.post("/rpc", json={**call, "params": params}).json()
    assert (
        answer["result"] == "0x" + (1).to_bytes(32, "big").hex() + (p - 2).to_bytes(32, "big").hex()
    )


# --- no freeze from connections that never finish a request ------------------------------------


def _trickled_until_closed(sock: socket.socket, head: bytes) -> bool:
    """Send `head` a byte every half second, as a slow loris does; whether the node closed
    the connection before the head was through."""
    sock.settimeout(0.5)
    for byte in head:
        try:
            sock.sendall(bytes([byte]))
            if sock.recv(1) == b"":
                return True
        except TimeoutError:
            continue  # nothing from the node yet: go on trickling
        except OSError:
            return True
    return False


def test_connections_that_never_finish_a_request_head_are_closed_and_the_node_answers(node):
    idle = [socket.create_connection(("127.0.0.1", node.port), timeout=60) for _ in range(50)]
    for sock in idle[::2]:  # half send a part of a head, half nothing at all
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: node\r\n")
    slow = socket.create_connection(("127.0.0.1", node.port), timeout=60)
    head = b"GET /healthz HTTP/1.1\r\nHost: node\r\nX-Padding: " + b"x" * 60 + b"\r\n\r\n"
    assert _trickled_until_closed(slow, head)
    kept = socket.create_connection(("127.0.0.1", node.port), timeout=60)
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: node\r\n\r\n")  # answered, kept alive,
    assert kept.recv(4096).startswith(b"HTTP/1.1 200")  # then the next head trickled
    assert _trickled_until_closed(kept, head)
    for sock in idle:
        assert sock.recv(1) == b"", "the node kept a connection that sent no whole head"
        sock.close()
    with urllib.request.urlopen(node.base + "/healthz", timeout=30) as resp:
        assert json.loads(resp.read()) == {"status": "ok"}


@pytest.fixture(scope="module")
def strict_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A node with small limits on time and connections: 2 s for a body (and a second more
    for each 64 KiB that arrives), 8 connections at once."""
    tmp = tmp_path_factory.mktemp("strict")
    running = Node(tmp, body_timeout="2", body_min_rate_kb="64", max_connections="8")
    yield running
    running.stop()


def _opened(port: int, head: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(head)
    return sock


def _head(line: str, **headers: str) -> bytes:
    """A request's head: its line and headers, Host given."""
    fields = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    return f"{line}\r\nHost: node\r\n{fields}\r\n".encode()


def _answer(sock: socket.socket) -> tuple[int, dict]:
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    return resp.status, json.loads(resp.read())


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except OSError:
        return True


def test_a_body_trickled_after_its_head_is_cut_off_with_a_408_and_the_node_answers(strict_node):
    node = strict_node
    json_type = {"Content_Type": "application/json", **bearer(node.token)}
    by_length = _head("POST /v1/records HTTP/1.1", Content_Length=str(MiB), **json_type)
    chunked = _head("POST /v1/staff HTTP/1.1", Transfer_Encoding="chunked", **json_type)
    trickled = {  # a MiB declared, or chunked, then a byte every half second
        "length": (_opened(node.port, by_length), b" "),
        "chunked": (_opened(node.port, chunked), b"1\r\n \r\n"),
    }
    answers: dict[str, tuple[int, dict]] = {}
    for _ in range(120):  # a minute at most
        for framing, (sock, byte) in trickled.items():
            if framing in answers:
                continue
            if select.select([sock], [], [], 0)[0]:
                answers[framing] = _answer(sock)
                assert _closed(sock), "the node kept the connection of a refused body"
            else:
                sock.sendall(byte)
        if len(answers) == len(trickled):
            break
        assert node.call("GET", "/healthz", timeout=10) == (200, {"status": "ok"})
        time.sleep(0.5)
    for framing, (status, answer) in answers.items():
        assert status == 408, framing
        assert answer["error"] == "body_timeout" and answer["field"] is None, answer
        assert "did not arrive in time" in answer["detail"]
    assert set(answers) == set(trickled), "a trickled body was waited for on and on"
    for sock, _ in trickled.values():
        sock.close()
    assert node.call("GET", "/healthz") == (200, {"status": "ok"})


def test_a_large_body_that_keeps_coming_is_read_past_the_first_seconds(strict_node):
    """Over the 2 s the node gives any body, a submission sent at 256 KiB/s (above the
    64 KiB/s it asks) goes through whole."""
    node = strict_node
    body = json.dumps({"records": [person(i) for i in range(3000)]}).encode()
    assert len(body) > 12 * 64 * 1024, "long enough to arrive over more than 2 s"
    json_type = {"Content_Type": "application/json", **bearer(node.token)}
    head = _head("POST /v1/records HTTP/1.1", Content_Length=str(len(body)), **json_type)
    sock = _opened(node.port, head)
    for at in range(0, len(body), 64 * 1024):
        sock.sendall(body[at : at + 64 * 1024])
        time.sleep(0.25)
    status, answer = _answer(sock)
    sock.close()
    assert status == 200 and answer["accepted"] == 3000, answer


def test_connections_past_the_cap_are_answered_503_and_the_node_answers_once_they_close(
    strict_node,
):
    node = strict_node
    wait_for(lambda: node.call("GET", "/healthz")[0] == 200, 30, "the node to answer")
    held = [socket.create_connection(("127.0.0.1", node.port), timeout=60) for _ in range(8)]
    one_more = _opened(node.port, _head("GET /healthz HTTP/1.1"))
    status, answer = _answer(one_more)
    assert status == 503
    assert answer["error"] == "too_many_connections" and answer["field"] is None, answer
    assert _closed(one_more)
    one_more.close()
    for sock in held:
        sock.close()
    wait_for(lambda: node.call("GET", "/healthz") == (200, {"status": "ok"}), 30, "an answer")


def test_the_open_files_limit_is_raised_and_a_cap_past_it_is_told():
    import resource

    from node.limits import open_files_for

    assert open_files_for(8) is None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == hard, "the soft limit raised to the hard one"
    warning = open_files_for(soft + 1)
    assert warning is not None and str(soft + 1) in warning and str(soft) in warning


# --- sizes before work -------------------------------------------------------------------------


def test_a_300_mb_body_is_refused_from_its_length_before_it_is_sent(node):
    headers = {"Content-Type": "application/json", "Content-Length": str(300 * MiB)}
    status, answer, sent = _raw_post(node.port, "/rpc", headers, [])
    assert status == 413 and answer["error"] == "body_too_large"
    assert sent == 0


def test_a_300_mb_body_streamed_is_cut_off_and_never_held(node):
    before = node.peak_rss()
    chunks = (b" " * MiB for _ in range(300))
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    status, answer, sent = _raw_post(node.port, "/rpc", headers, chunks)
    assert sent < 100 * MiB, "the node kept reading"
    assert status == 413 and answer["error"] == "body_too_large"
    assert node.peak_rss() - before < 64 * MiB
    assert node.rpc("eth_chainId", [])["result"] == "0x539"


def test_every_route_has_a_body_limit(node_client):
    big = {"name": "x" * MiB, "role": "submitter"}  # over the 1 MiB of every route but one
    for path in ("/v1/staff", "/v1/proposals", "/rpc", "/v1/staff/x/unlock"):
        resp = node_client.post(path, json=big)
        assert resp.status_code == 413, path
        assert resp.json() == {
            "error": "body_too_large",
            "detail": "the body is larger than 1 MiB, the limit on this route",
            "field": None,
        }
    chunks = (b" " * 1024 for _ in range(1025))  # no Content-Length: counted as it comes
    resp = node_client.post(
        "/v1/staff", content=chunks, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413
    engine = node_client.app.state.node.engine
    assert [a["name"] for a in staff.list_accounts(engine=engine)] == ["admin-1"]


@pytest.mark.parametrize("path", ["/v1/staff", "/v1/proposals", "/v1/records", "/rpc"])
def test_a_body_that_is_not_declared_json_is_a_415(node_client, path):
    resp = node_client.post(path, content=b'{"name": "x"}', headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415
    assert resp.json()["error"] == "unsupported_media_type"
    assert "application/json" in resp.json()["detail"]


def test_whatever_a_dependency_sets_a_deep_parse_is_refused_not_a_crash():
    """py_ecc raises the recursion limit to 100,000 when imported; the node sets it back."""
    code = (
        "import json; from node.app import create_app; create_app(); "
        "json.loads('[' * 100_000 + ']' * 100_000)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, timeout=120)
    assert done.returncode == 1, f"exit {done.returncode}"
    assert b"RecursionError" in done.stderr
