"""Fixtures used across the suite: a node on the embedded chain or on anvil, record makers."""

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from node.app import create_app
from node.config import Settings
from node.crypto.subjects import make_resident_id, make_uscc

REPO = Path(__file__).resolve().parent.parent
ANVIL = REPO / "node_modules" / ".bin" / "anvil"


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


@pytest.fixture
def anvil() -> Iterator[str]:
    """A fresh anvil dev chain on a free loopback port, stopped after the test."""
    if not ANVIL.exists():
        pytest.fail("anvil missing: run scripts/test, which installs node_modules")
    port = free_port()
    proc = subprocess.Popen(
        [str(ANVIL), "--port", str(port), "--host", "127.0.0.1", "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: rpc(url, "eth_chainId"), timeout=30, what="anvil")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


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
    base = dict(data=data, rpc=rpc_url, batch_size=1000, batch_interval=0.01, workers=0)
    base.update(kw)
    return Settings(**base)


@pytest.fixture
def node_client(tmp_path: Path) -> Iterator[TestClient]:
    """A node on a fresh embedded chain; the test drives its batcher with drain()."""
    app = create_app(make_settings(tmp_path / "data"), run_batcher=False)
    with TestClient(app) as client:
        yield client


def node_of(client: TestClient):  # type: ignore[no-untyped-def]
    return client.app.state.node


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


def wait_http(url: str, timeout: float = 60) -> None:
    wait_for(lambda: urllib.request.urlopen(url, timeout=2).status == 200, timeout, url)


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
