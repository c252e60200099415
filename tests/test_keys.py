"""Member identity: the node's keys in encrypted keystores, unlocked by a password from the
environment or a file, and never in a log, an error or an API answer."""

import json
import logging
import secrets
import stat
import urllib.request
from pathlib import Path

import pytest
from eth_account import Account

from node.keys import cli as keys_cli
from node.keys.store import KeystoreError, NodeSecrets, load_secrets
from tests.conftest import (
    bearer,
    free_port,
    person,
    staff_token_in,
    start_node_process,
    wait_for,
    wait_http,
)

FAST = "1024"  # scrypt n for tests; the node's default is 2**15
ENV = (
    "CREDITCHAIN_KEY_PASSWORD",
    "CREDITCHAIN_KEY_PASSWORD_FILE",
    "CREDITCHAIN_MEMBER_KEY_FILE",
    "CREDITCHAIN_MASTER_KEY_FILE",
    "CREDITCHAIN_CONSORTIUM_SECRET_FILE",
    "CREDITCHAIN_DATA",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CREDITCHAIN_KDF_N", FAST)


def material(s: NodeSecrets) -> list[bytes]:
    return [bytes(s.member.key), s.master_key, s.consortium_secret]


def forms(secret: bytes | str) -> list[bytes]:
    """The ways a secret could leak: as it is, or as hex (compared with the text lower-cased)."""
    if isinstance(secret, str):
        return [secret.encode()]
    return [secret, secret.hex().encode()]


def assert_absent(blob: bytes, secrets_: list[bytes | str], where: str) -> None:
    lowered = blob.lower()
    for secret in secrets_:
        for form in forms(secret):
            assert form not in blob and form not in lowered, f"a secret in clear in {where}"


def keys_new(data: Path, *extra: str) -> int:
    return keys_cli.main(["new", "--data", str(data), *extra])


def test_keys_new_writes_keystores_with_no_key_in_clear(tmp_path, monkeypatch, capsys):
    password = "correct horse " + secrets.token_hex(4)
    monkeypatch.setenv("CREDITCHAIN_KEY_PASSWORD", password)
    assert keys_new(tmp_path / "data") == 0
    out = capsys.readouterr()
    keys = tmp_path / "data" / "keys"
    assert sorted(p.name for p in keys.iterdir()) == [
        "consortium.json",
        "master.json",
        "member.json",
    ]
    s = load_secrets(keys, create=False)
    assert f"member {s.member.address}" in out.out
    assert_absent((out.out + out.err).encode(), [*material(s), password], "keys new's output")
    for path in keys.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert_absent(path.read_bytes(), [*material(s), password], path.name)
    # the member key is a standard keystore: eth-account (and geth) open it with the password
    member = json.loads((keys / "member.json").read_text())
    assert member["version"] == 3 and member["crypto"]["kdf"] == "scrypt"
    assert member["crypto"]["kdfparams"]["n"] == int(FAST)
    assert Account.decrypt(member, password) == s.member.key
    assert "address" not in json.loads((keys / "master.json").read_text())

    assert keys_cli.main(["address", "--data", str(tmp_path / "data")]) == 0
    assert capsys.readouterr().out.strip() == s.member.address


def test_keys_new_refuses_to_replace_keys_unless_forced(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CREDITCHAIN_KEY_PASSWORD", "pw")
    data = tmp_path / "data"
    assert keys_new(data) == 0
    first = load_secrets(data / "keys", create=False)
    capsys.readouterr()
    assert keys_new(data) == 1
    assert "already holds keys" in capsys.readouterr().err
    assert load_secrets(data / "keys", create=False).member.address == first.member.address
    assert keys_new(data, "--force") == 0
    assert load_secrets(data / "keys", create=False).member.address != first.member.address


def test_a_wrong_password_is_refused_with_a_clear_message_and_nothing_secret(tmp_path, monkeypatch):
    keys = tmp_path / "data" / "keys"
    monkeypatch.setenv("CREDITCHAIN_KEY_PASSWORD", "the right one")
    s = load_secrets(keys)
    monkeypatch.setenv("CREDITCHAIN_KEY_PASSWORD", "a wrong one")
    with pytest.raises(KeystoreError) as err:
        load_secrets(keys)
    message = str(err.value)
    assert message.startswith(f"cannot unlock {keys / 'member.json'}: wrong password")
    assert_absent(message.encode(), [*material(s), "the right one", "a wrong one"], "the error")
    assert err.value.__cause__ is None and err.value.__suppress_context__

    monkeypatch.delenv("CREDITCHAIN_KEY_PASSWORD")
    with pytest.raises(KeystoreError, match="no password .*CREDITCHAIN_KEY_PASSWORD"):
        load_secrets(keys)


def test_the_password_may_come_from_a_file(tmp_path, monkeypatch):
    keys = tmp_path / "data" / "keys"
    monkeypatch.setenv("CREDITCHAIN_KEY_PASSWORD", "from a file ")
    s = load_secrets(keys)
    monkeypatch.delenv("CREDITCHAIN_KEY_PASSWORD")
    secret_file = tmp_path / "password.txt"
    secret_file.write_text("from a file \n")  # the trailing newline is not part of it
    monkeypatch.setenv("CREDITCHAIN_KEY_PASSWORD_FILE", str(secret_file))
    assert material(load_secrets(keys)) == material(s)
    secret_file.write_text("from a file\n")
    with pytest.raises(KeystoreError, match="wrong password"):
        load_secrets(keys)
    monkeypatch.setenv("CREDITCHAIN_KEY_PASSWORD_FILE", str(tmp_path / "absent"))
    with pytest.raises(KeystoreError, match="cannot read the password file"):
        load_secrets(keys)


def test_a_new_node_without_a_password_writes_one_beside_its_keys_and_says_so(tmp_path, caplog):
    keys = tmp_path / "data" / "keys"
    with caplog.at_level(logging.WARNING, logger="creditchain.keys"):
        s = load_secrets(keys)
    assert "CREDITCHAIN_KEY_PASSWORD_FILE" in caplog.text
    password_file = keys / "password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = password_file.read_text().strip()
    assert_absent(caplog.text.encode(), [*material(s), password], "the warning")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="creditchain.keys"):
        assert material(load_secrets(keys)) == material(s)  # the same password, said only once
    assert caplog.text == ""


def test_plain_key_files_of_earlier_versions_become_keystores(tmp_path, monkeypatch):
    keys = tmp_path / "data" / "keys"
    keys.mkdir(parents=True)
    old = {name: secrets.token_bytes(32) for name in ("member.key", "master.key")}
    old["consortium.secret"] = secrets.token_bytes(32)
    for name, value in old.items():
        (keys / name).write_text(value.hex() + "\n")
    address = Account.from_key(old["member.key"]).address
    monkeypatch.setenv("CREDITCHAIN_KEY_PASSWORD", "migrate")

    s = load_secrets(keys)
    assert s.member.address == address
    assert (s.master_key, s.consortium_secret) == (old["master.key"], old["consortium.secret"])
    assert sorted(p.name for p in keys.iterdir()) == [
        "consortium.json",
        "master.json",
        "member.json",
    ]
    for path in keys.iterdir():
        assert_absent(path.read_bytes(), list(old.values()), path.name)
    assert material(load_secrets(keys, create=False)) == material(s)
    assert keys_cli.main(["address", "--data", str(tmp_path / "data")]) == 0


def test_a_directory_of_plain_files_migrates_with_no_password_set(tmp_path):
    keys = tmp_path / "data" / "keys"
    keys.mkdir(parents=True)
    member = secrets.token_bytes(32)
    for name in ("member.key", "master.key", "consortium.secret"):
        (keys / name).write_text(
            (member if name == "member.key" else secrets.token_bytes(32)).hex()
        )
    s = load_secrets(keys)  # what `scripts/run` does on an existing data directory
    assert s.member.address == Account.from_key(member).address
    assert (keys / "password").exists() and not (keys / "member.key").exists()
    assert load_secrets(keys).member.address == s.member.address


def test_the_consortium_secret_is_imported_or_read_from_a_shared_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CREDITCHAIN_KEY_PASSWORD", "pw")
    shared = secrets.token_bytes(32)
    shared_file = tmp_path / "consortium.hex"
    shared_file.write_text("0x" + shared.hex() + "\n")
    for member in ("a", "b"):
        assert keys_new(tmp_path / member, "--consortium-secret-file", str(shared_file)) == 0
    a = load_secrets(tmp_path / "a" / "keys", create=False)
    b = load_secrets(tmp_path / "b" / "keys", create=False)
    assert a.consortium_secret == b.consortium_secret == shared
    assert a.member.address != b.member.address and a.master_key != b.master_key

    other = secrets.token_bytes(32)
    other_file = tmp_path / "other.hex"
    other_file.write_text(other.hex())
    monkeypatch.setenv("CREDITCHAIN_CONSORTIUM_SECRET_FILE", str(other_file))
    assert load_secrets(tmp_path / "a" / "keys").consortium_secret == other
    bad = tmp_path / "bad.hex"
    bad.write_text("not hex")
    assert keys_new(tmp_path / "c", "--consortium-secret-file", str(bad)) == 1


def test_the_kdf_cost_is_set_by_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CREDITCHAIN_KEY_PASSWORD", "pw")
    monkeypatch.setenv("CREDITCHAIN_KDF_N", "1000")
    with pytest.raises(KeystoreError, match="power of two"):
        load_secrets(tmp_path / "keys")
    monkeypatch.delenv("CREDITCHAIN_KDF_N")
    load_secrets(tmp_path / "keys")
    assert (
        json.loads((tmp_path / "keys" / "member.json").read_text())["crypto"]["kdfparams"]["n"]
        == 2**15
    )


def _get(url: str, token: str) -> bytes:
    with urllib.request.urlopen(
        urllib.request.Request(url, headers=bearer(token)), timeout=30
    ) as r:
        return bytes(r.read())


def test_no_key_or_password_in_any_log(tmp_path, monkeypatch):
    """A real node with the password in its environment: its output, log and files, and its
    API's answers, hold neither the password nor any key."""
    data, log = tmp_path / "data", tmp_path / "node.log"
    password = "pw-" + secrets.token_urlsafe(16)
    env = {"CREDITCHAIN_KEY_PASSWORD": password, "CREDITCHAIN_KDF_N": FAST}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    token = staff_token_in(data)
    proc = start_node_process(data, port, "--log-level", "debug", log=log, env=env)
    answers = b""
    try:
        wait_http(base + "/v1/chain", timeout=120, headers=bearer(token))
        body = json.dumps({"records": [person(i) for i in range(5)]}).encode()
        headers = {"Content-Type": "application/json", **bearer(token)}
        req = urllib.request.Request(base + "/v1/records", body, headers)
        with urllib.request.urlopen(req, timeout=60) as resp:
            answers += resp.read()
        status = base + "/v1/status"
        wait_for(lambda: json.loads(_get(status, token))["pending"] == 0, 60, "anchoring")
        for path in ("/v1/chain", "/v1/status", "/openapi.json", "/v1/records/LN-000001-2025-06"):
            answers += _get(base + path, token)
        answers += _get(base + "/v1/records/LN-000001-2025-06/receipt", token)
    finally:
        proc.terminate()
        proc.wait(30)

    # and a start with a wrong password: refused, saying so, and still nothing secret
    wrong = "wrong-" + secrets.token_urlsafe(8)
    refused = start_node_process(
        data, free_port(), log=log, env={"CREDITCHAIN_KEY_PASSWORD": wrong}
    )
    assert refused.wait(120) != 0
    text = log.read_bytes()
    assert b"wrong password" in text

    monkeypatch.setenv("CREDITCHAIN_KEY_PASSWORD", password)
    s = load_secrets(data / "keys", create=False)
    assert s.member.address.encode() in text  # the log is the node's, with its address
    leaks = [*material(s), password, wrong]
    assert_absent(text, leaks, "the node's output")
    assert_absent(answers, leaks, "the API's answers")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert_absent(path.read_bytes(), leaks, str(path.relative_to(tmp_path)))
