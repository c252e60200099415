"""The command line as a new member meets it: one clear line instead of a traceback, defaults
that follow the node's settings, exit codes that tell "refused" from "no answer", and the
member card an admin needs to admit it."""

import argparse
import fcntl
import json
import os
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path

import pytest
from eth_utils import keccak, to_checksum_address

from node.cli import _parser, main, parse_args
from node.crypto.canonical import canonical_json
from node.crypto.commitments import commitment, to_hex
from node.crypto.merkle import leaf_hash
from node.members.cli import width
from node.members.schemas import ProposalIn
from tests.conftest import REPO, free_port, start_node_process, wait_http

FAST_KDF = "1024"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting of the machine's own leaks in: each test sets what it means."""
    for name in list(os.environ):
        if name.startswith("CREDITCHAIN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CREDITCHAIN_KDF_N", FAST_KDF)


def _creditchain(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# --- creditchain run: the data directory and the port, taken before any work --------------


def test_a_second_node_on_a_data_directory_in_use_is_refused_in_one_line(tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "first.log"
    port = free_port()
    first = start_node_process(data, port, "--workers", "0", log=log)
    try:
        wait_http(f"http://127.0.0.1:{port}/docs", timeout=120)
        before = _tree(data)
        second = _creditchain("run", "--data", str(data), "--port", str(free_port()))
        assert second.returncode != 0
        said = (second.stdout + second.stderr).strip().splitlines()
        assert len(said) == 1, said
        assert "in use by another node" in said[0] and f"pid {first.pid}" in said[0]
        assert _tree(data) == before  # nothing created, the first node's files untouched
        assert first.poll() is None  # and the first node still runs
    finally:
        first.terminate()
        first.wait(30)


def test_a_busy_port_is_said_in_one_line_before_any_key_is_made(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        answer = _creditchain("run", "--data", str(data), "--port", str(port))
    assert answer.returncode != 0
    said = (answer.stdout + answer.stderr).strip().splitlines()
    assert len(said) == 1, said
    assert f"port {port}" in said[0] and "in use" in said[0] and "--port" in said[0]
    assert not data.exists()  # no keys, no store, no chain


def test_a_busy_port_leaves_an_existing_data_directory_free_for_the_next_start(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        answer = _creditchain("run", "--data", str(data), "--port", str(taken.getsockname()[1]))
    assert answer.returncode != 0 and "in use" in answer.stderr
    assert _tree(data) <= {"node.lock"}  # the lock file at most: no keys, no store
    with open(data / "node.lock") as f:  # and the lock is let go
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


# --- keys public-key and keys card ---------------------------------------------------------


def test_keys_public_key_matches_the_member_address_and_the_card_is_a_working_proposal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    assert main(["keys", "new", "--data", data]) == 0
    capsys.readouterr()
    assert main(["keys", "address", "--data", data]) == 0
    address = capsys.readouterr().out.strip()
    assert main(["keys", "public-key", "--data", data]) == 0
    key = capsys.readouterr().out.strip()
    raw = bytes.fromhex(key.removeprefix("0x"))
    assert len(raw) == 65 and raw[0] == 4
    assert to_checksum_address(keccak(raw[1:])[-20:]) == address

    name, url = "某贷款公司 (Shenzhen) Ltd", "https://node.example.cn:8700"
    assert main(["keys", "card", "--name", name, "--node-url", url, "--data", data]) == 0
    card = capsys.readouterr().out
    assert address in card and key in card and name in card and url in card
    command = next(line for line in card.splitlines() if "governance propose admit" in line)
    argv = shlex.split(command)
    assert argv[0] == "creditchain"
    proposal = parse_args([*argv[1:], "--node", "http://127.0.0.1:1"])
    assert (proposal.action, proposal.subject, proposal.name) == ("admit", address, name)
    assert (proposal.node_url, proposal.public_key) == (url, key)
    ProposalIn(action="admit", subject=address, name=name, node_url=url, public_key=key)


def test_keys_card_refuses_a_node_url_that_is_no_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    assert main(["keys", "new", "--data", data]) == 0
    code = main(["keys", "card", "--name", "x", "--node-url", "node.example", "--data", data])
    assert code == 2 and "--node-url" in capsys.readouterr().err


# --- verify and governance: the node's settings, and "could not reach" -----------------------


def test_verify_and_governance_reach_the_node_creditchain_run_would_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CREDITCHAIN_PORT", "9123")
    assert parse_args(["verify", "r.json"]).rpc == "http://127.0.0.1:9123/rpc"
    assert parse_args(["governance", "members"]).node == "http://127.0.0.1:9123"
    monkeypatch.setenv("CREDITCHAIN_HOST", "0.0.0.0")  # listening everywhere: ask loopback
    assert parse_args(["governance", "list"]).node == "http://127.0.0.1:9123"
    monkeypatch.setenv("CREDITCHAIN_RPC", "http://anvil.local:8545")  # the node's own chain
    assert parse_args(["verify", "r.json"]).rpc == "http://anvil.local:8545"
    monkeypatch.setenv("CREDITCHAIN_NODE", "http://other:8800")
    assert parse_args(["governance", "members"]).node == "http://other:8800"
    assert parse_args(["verify", "r.json", "--rpc", "http://x/rpc"]).rpc == "http://x/rpc"


def test_a_bad_port_setting_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CREDITCHAIN_PORT", "87OO")
    with pytest.raises(SystemExit) as exit_:
        parse_args(["verify", "r.json"])
    assert exit_.value.code == 2 and "CREDITCHAIN_PORT" in capsys.readouterr().err


def _receipt(**changes: object) -> dict:
    """A receipt whose offline checks hold (a tree of one), to be checked against a chain."""
    record = {"record_id": "R-1", "kind": "overdue"}
    salt = bytes(range(32))
    c = commitment(salt, canonical_json(record))
    receipt = {
        "version": 1, "record": record, "salt": to_hex(salt), "commitment": to_hex(c),
        "batch_id": 1, "leaf_index": 0, "tree_size": 1, "proof": [],
        "root": to_hex(leaf_hash(c)), "chain_id": 1337, "registry": "0x" + "11" * 20,
        "tx_hash": "0x" + "22" * 32, "block_number": 3,
    }  # fmt: skip
    receipt.update(changes)
    return receipt


def test_verify_against_an_unreachable_chain_exits_3_not_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(_receipt()))
    nowhere = f"http://127.0.0.1:{free_port()}/rpc"
    assert main(["verify", str(path), "--rpc", nowhere]) == 3
    assert f"could not reach the chain at {nowhere}" in capsys.readouterr().err
    (tmp_path / "not.json").write_text("{")
    assert main(["verify", str(tmp_path / "not.json"), "--rpc", nowhere]) == 2


def test_a_malformed_receipt_is_said_to_be_one_not_blamed_on_the_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/rpc"
    for field, value in [("registry", "the registry"), ("batch_id", "1"), ("tx_hash", 7)]:
        path = tmp_path / "receipt.json"
        path.write_text(json.dumps(_receipt(**{field: value})))
        assert main(["verify", str(path), "--rpc", nowhere]) == 1
        out = capsys.readouterr().out
        assert f"FAIL receipt      malformed: {field}" in out and "NOT VERIFIED" in out


def test_governance_against_an_unreachable_node_exits_3_and_without_a_token_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    assert main(["governance", "members", "--node", nowhere]) == 2
    assert "CREDITCHAIN_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("CREDITCHAIN_TOKEN", "cc_1_x")
    assert main(["governance", "members", "--node", nowhere]) == 3
    assert f"could not reach the node at {nowhere}" in capsys.readouterr().err


# --- the members table, with names as members write them ----------------------------------

MEMBERS = [
    {"address": "0x" + "a1" * 20, "status": "active", "roles": ["admin"],
     "name": "某贷款公司", "node_url": "https://a.example:8700"},
    {"address": "0x" + "b2" * 20, "status": "suspended", "roles": ["admin", "auditor"],
     "name": "Example Lending Ltd", "node_url": "https://b.example:8700"},
    {"address": "0x" + "c3" * 20, "status": "active", "roles": [],
     "name": "深圳小额贷款有限公司", "node_url": "https://c.example:8700"},
]  # fmt: skip
PROPOSALS = [
    {"id": 3, "action": "admit", "subject": "0x" + "d4" * 20, "votes": 1, "votes_needed": 2,
     "state": "open", "candidate": {"name": "某某消费金融", "node_url": "", "public_key": "0x"}},
    {"id": 12, "action": "suspend", "subject": "0x" + "b2" * 20, "votes": 1, "votes_needed": 2,
     "state": "open"},
]  # fmt: skip


@pytest.fixture
def fake_node() -> Iterator[tuple[int, list[str]]]:
    """A stand-in node answering the members and proposals listings; the paths it was asked."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            asked.append(self.path)
            body = json.dumps(MEMBERS if self.path == "/v1/members" else PROPOSALS).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], asked
    server.shutdown()
    server.server_close()


def _columns(line: str, cells: list[str]) -> list[int]:
    """The terminal column at which each of `cells` starts in `line`."""
    starts, at = [], 0
    for cell in cells:
        at = line.index(cell, at)
        starts.append(width(line[:at]))
        at += len(cell)
    return starts


def test_governance_asks_the_node_on_the_port_creditchain_run_uses(
    fake_node: tuple[int, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, asked = fake_node
    monkeypatch.setenv("CREDITCHAIN_PORT", str(port))  # and no --node
    monkeypatch.setenv("CREDITCHAIN_TOKEN", "cc_1_x")
    assert main(["governance", "members"]) == 0
    assert asked == ["/v1/members"]


def test_governance_tables_line_up_with_chinese_names(
    fake_node: tuple[int, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    node = f"http://127.0.0.1:{fake_node[0]}"
    monkeypatch.setenv("CREDITCHAIN_TOKEN", "cc_1_x")
    assert main(["governance", "members", "--node", node]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(MEMBERS)
    columns = {
        tuple(_columns(line, [m["status"], m["name"], m["node_url"]]))
        for line, m in zip(lines, MEMBERS, strict=True)
    }
    assert len(columns) == 1, lines

    assert main(["governance", "list", "--node", node]) == 0
    lines = capsys.readouterr().out.splitlines()
    columns = {
        tuple(_columns(line, [p["action"], p["subject"], f"{p['votes']}/", p["state"]]))
        for line, p in zip(lines, PROPOSALS, strict=True)
    }
    assert len(columns) == 1, lines


def test_display_width_counts_wide_characters_twice() -> None:
    assert width("abc") == 3
    assert width("某贷款公司") == 10
    assert width("ＡＢ") == 4  # full-width Latin
    assert width("e\u0301") == 1  # e and a combining accent


# --- --version, help texts, .gitignore ----------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"creditchain {version('creditchain')}"


def _parsers(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, object]]:
    """Every (command path, action) of the parser and its subcommands, depth first."""
    for action in parser._actions:
        yield path, action
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_positional_argument_and_subcommand_has_help() -> None:
    missing = []
    for path, action in _parsers(_parser(), "creditchain"):
        assert isinstance(action, argparse.Action)
        if isinstance(action, argparse._SubParsersAction):
            listed = {a.dest: a.help for a in action._choices_actions}
            missing += [f"{path} {n}" for n in action.choices if not listed.get(n)]
        elif not action.option_strings and not (action.help or "").strip():
            missing.append(f"{path} {action.metavar or action.dest}")
    assert not missing, missing


COMMANDS = {"run", "submit", "verify", "consortium", "keys", "staff", "governance", "index",
            "blacklist", "disputes", "retention", "backup", "restore", "audit-export", "audit",
            "regulator"}  # fmt: skip


def test_help_lists_every_command_and_each_has_its_own_help() -> None:
    def creditchain(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "node.cli", *args], cwd=REPO,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    top = creditchain("--help")
    assert top.returncode == 0
    listed = top.stdout.split("positional arguments:")[1].split("options:")[0].split()
    assert COMMANDS <= set(listed)
    for command in sorted(COMMANDS):
        answer = creditchain(command, "--help")
        assert answer.returncode == 0, (command, answer.stderr)
        assert answer.stdout.startswith(f"usage: creditchain {command}")


def test_every_command_is_registered_with_what_runs_it() -> None:
    (commands,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(commands.choices) == COMMANDS
    for name, parser in commands.choices.items():
        func = parser.get_default("func")
        assert callable(func), name
        assert func.__module__.startswith("node.") and func.__module__ != "node.cli", name


def test_gitignore_covers_what_the_tour_and_the_consortium_leave_behind() -> None:
    paths = ["consortium/consortium.json", "consortium/member-1/node.db", "receipt.json"]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths], cwd=REPO, capture_output=True, text=True
    )
    assert ignored.stdout.split() == paths


# --- staff commands on a directory that holds no node -------------------------------------


@pytest.mark.parametrize(
    "command", [["list"], ["add", "admin-1", "--role", "admin"], ["unlock", "admin-1"]]
)
def test_staff_commands_refuse_a_mistyped_data_directory_and_create_nothing(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    typo, empty = tmp_path / "dta", tmp_path / "empty"
    empty.mkdir()
    for data in (typo, empty):
        assert main(["staff", *command, "--data", str(data)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{data} holds no node" in err[0]
    assert not typo.exists() and not any(empty.iterdir())


def test_staff_commands_work_on_a_directory_with_keys_before_the_node_first_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    assert main(["keys", "new", "--data", data]) == 0
    assert main(["staff", "add", "admin-1", "--role", "admin", "--data", data]) == 0
    assert main(["staff", "list", "--data", data]) == 0
    assert "admin-1" in capsys.readouterr().out
