"""A consortium of three members on this machine: up, governed by votes, and down."""

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from coincurve import PublicKey
from eth_account import Account

from node.peers.signing import signed_headers
from node.secrets import load_secrets
from tests.conftest import REPO, wait_for


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "node.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


TOKENS: dict[str, str] = {}  # node URL -> its admin's token


def _call(url: str, method: str = "GET", body: dict | None = None,
          headers: dict | None = None) -> tuple[int, object]:  # fmt: skip
    base = url.split("/v1/")[0]
    if base in TOKENS and not headers:
        headers = {"Authorization": f"Bearer {TOKENS[base]}"}
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data, {"Content-Type": "application/json", **(headers or {})},
                                 method=method)  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _public_key(account) -> str:  # type: ignore[no-untyped-def]
    return PublicKey.from_secret(bytes(account.key)).format(compressed=False).hex()


@pytest.fixture(scope="module")
def consortium(tmp_path_factory):
    root = tmp_path_factory.mktemp("consortium")
    up = _cli("consortium", "up", "--members", "3", "--dir", str(root))
    assert up.returncode == 0, up.stdout + up.stderr
    state = json.loads((root / "consortium.json").read_text())
    for m in state["members"]:
        TOKENS[m["url"]] = (Path(m["data"]) / "admin.token").read_text().strip()
    yield root, state
    _cli("consortium", "down", "--dir", str(root))


def test_three_members_come_up_and_list_each_other_from_the_chain(consortium):
    root, state = consortium
    assert len(state["members"]) == 3
    status = _cli("consortium", "status", "--dir", str(root))
    assert status.stdout.count("running, answering") == 3
    for member in state["members"]:
        code, listed = _call(member["url"] + "/v1/members")
        assert code == 200
        assert {m["address"] for m in listed} == {m["address"] for m in state["members"]}
        assert all(m["status"] == "active" and m["roles"] == ["admin"] for m in listed)


def test_admission_by_vote_across_nodes_and_a_removed_member_is_refused(consortium):
    _root, state = consortium
    first, second, third = (m["url"] for m in state["members"])
    newcomer = Account.create()
    code, proposal = _call(
        first + "/v1/proposals",
        "POST",
        {
            "action": "admit",
            "subject": newcomer.address,
            "name": "新成员",
            "public_key": "0x" + _public_key(newcomer),
        },  # fmt: skip
    )
    assert code == 200, proposal
    assert proposal["state"] == "open" and proposal["votes"] == 1
    code, again = _call(first + f"/v1/proposals/{proposal['id']}/votes", "POST")
    assert code == 409 and again["error"] == "already_voted"
    # another node reads from its own index of the chain: it shows the proposal once read
    wait_for(lambda: [p["id"] for p in _call(third + "/v1/proposals")[1]] == [proposal["id"]],
             what="the third node's index")  # fmt: skip
    code, passed = _call(second + f"/v1/proposals/{proposal['id']}/votes", "POST")
    assert code == 200 and passed["state"] == "executed"
    wait_for(lambda: newcomer.address in {m["address"] for m in _call(third + "/v1/members")[1]},
             what="the admission in the third node's index")  # fmt: skip

    # member 3's node talks to member 1's node; once removed by vote, it is refused
    keys = load_secrets(Path(state["members"][2]["data"]) / "keys", create=False)
    code, info = _call(first + "/v1/chain")

    def hello() -> tuple[int, object]:
        headers = signed_headers(keys.member, chain_id=info["chain_id"],
                                 contract=info["contracts"]["Consortium"], method="GET",
                                 path="/v1/peer/hello", body=b"")  # fmt: skip
        return _call(first + "/v1/peer/hello", headers=headers)

    assert hello()[0] == 200
    code, removal = _call(
        first + "/v1/proposals", "POST", {"action": "remove", "subject": keys.member.address}
    )
    _call(second + f"/v1/proposals/{removal['id']}/votes", "POST")
    wait_for(lambda: hello()[0] == 403, what="the removal in the first node's index")
    code, answer = hello()
    assert code == 403 and answer["error"] == "not_an_active_member"


def test_down_stops_exactly_what_up_started(tmp_path):
    up = _cli("consortium", "up", "--members", "1", "--dir", str(tmp_path))
    assert up.returncode == 0, up.stderr
    state = json.loads((tmp_path / "consortium.json").read_text())
    pids = [state["anvil"]["pid"]] + [m["pid"] for m in state["members"]]
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert _cli("consortium", "down", "--dir", str(tmp_path)).returncode == 0
        assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                       for p in pids)  # fmt: skip
        assert bystander.poll() is None
        again = _cli("consortium", "status", "--dir", str(tmp_path))
        assert again.returncode == 1 and "no consortium" in again.stderr
    finally:
        bystander.kill()


def test_governance_from_the_cli_lists_proposes_and_votes(consortium):
    _root, state = consortium
    first, second = state["members"][0], state["members"][1]
    newcomer = Account.create()

    def gov(member: dict, *args: str) -> subprocess.CompletedProcess:
        token_file = str(Path(member["data"]) / "admin.token")
        return _cli("governance", *args, "--node", member["url"], "--token-file", token_file)

    proposed = gov(first, "propose", "admit", newcomer.address, "--name", "命令行成员",
                   "--public-key", "0x" + _public_key(newcomer))  # fmt: skip
    assert proposed.returncode == 0, proposed.stderr
    assert "1/2 votes  open" in proposed.stdout
    proposal_id = proposed.stdout.split()[0].lstrip("#")
    wait_for(lambda: f"#{proposal_id}" in gov(second, "list").stdout, what="the second's index")
    assert "命令行成员" in gov(second, "list").stdout
    twice = gov(first, "vote", proposal_id)
    assert twice.returncode == 1 and "already_voted" in twice.stderr
    passed = gov(second, "vote", proposal_id)
    assert passed.returncode == 0 and "executed" in passed.stdout
    members = gov(second, "members")
    assert newcomer.address in members.stdout
    assert gov(second, "list").stdout.strip() == "no open proposals"
