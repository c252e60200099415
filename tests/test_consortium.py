"""A consortium on this machine: founded by `consortium up` or `consortium found`, joined by
a new member, governed by votes, stopped and brought back."""

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from coincurve import PublicKey
from eth_account import Account
from fastapi.testclient import TestClient
from web3 import HTTPProvider, Web3

from node.app import create_app
from node.chain import setup
from node.chain.compile import compile_contracts
from node.chain.deploy import CONSORTIUM, DEPLOY_LIST, DeployError
from node.keys.store import load_secrets
from node.peers.signing import signed_headers
from tests.conftest import (
    REPO,
    bearer,
    free_port,
    make_settings,
    node_of,
    person,
    rpc,
    staff_token_in,
    start_node_process,
    wait_for,
    wait_http,
)

NAMED = {CONSORTIUM, *DEPLOY_LIST}  # every path that deploys deploys these


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


def _listed_on_chain(rpc_url: str, consortium: str) -> dict[str, str]:
    """The contracts the Consortium at `consortium` lists by name."""
    abi = compile_contracts()["Consortium"]["abi"]
    fns = Web3(HTTPProvider(rpc_url)).eth.contract(address=consortium, abi=abi).functions
    names = [fns.contractNameAt(i).call() for i in range(fns.contractCount().call())]
    return {n.rstrip(b"\0").decode(): fns.contractAddress(n).call() for n in names}


def _chain_file(data: Path) -> dict:
    return json.loads((data / "chain.json").read_text())


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


def test_every_path_that_deploys_uses_the_one_deploy_list(consortium, node_client):
    root, state = consortium
    embedded = node_of(node_client).chain.addresses  # a node founding on its own fresh chain
    assert set(embedded) == NAMED
    by_up = _chain_file(Path(state["members"][0]["data"]))["contracts"]
    assert set(by_up) == NAMED
    assert all(_chain_file(Path(m["data"]))["contracts"] == by_up for m in state["members"])
    listed = _listed_on_chain(state["anvil"]["rpc"], by_up[CONSORTIUM])
    assert listed == {n: a for n, a in by_up.items() if n != CONSORTIUM}


@pytest.fixture
def gone(tmp_path):
    """A directory for a consortium that the test starts; stopped afterwards, whatever happens."""
    yield tmp_path
    if (tmp_path / "consortium.json").exists():
        _cli("consortium", "down", "--dir", str(tmp_path))


def test_down_stops_exactly_what_up_started_and_up_brings_the_same_consortium_back(gone):
    tmp_path = gone
    up = _cli("consortium", "up", "--members", "1", "--dir", str(tmp_path))
    assert up.returncode == 0, up.stdout + up.stderr
    state = json.loads((tmp_path / "consortium.json").read_text())
    anvil = psutil.Process(state["anvil"]["pid"])
    assert anvil.name() == "anvil" and "node" not in Path(anvil.exe()).name  # not the wrapper
    member = state["members"][0]
    data, base = Path(member["data"]), member["url"]
    token = (data / "admin.token").read_text().strip()
    contracts = _chain_file(data)["contracts"]
    code, answer = _call(base + "/v1/records", "POST", {"records": [person(7)]}, bearer(token))
    assert code == 200 and answer["accepted"] == 1
    receipt_url = base + f"/v1/records/{person(7)['record_id']}/receipt"
    wait_for(lambda: _call(receipt_url, headers=bearer(token))[0] == 200, 60, "the receipt")
    receipt = _call(receipt_url, headers=bearer(token))[1]
    (tmp_path / "receipt.json").write_text(json.dumps(receipt))

    pids = [state["anvil"]["pid"]] + [m["pid"] for m in state["members"]]
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert _cli("consortium", "down", "--dir", str(tmp_path)).returncode == 0
        assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                       for p in pids)  # fmt: skip
        assert bystander.poll() is None
    finally:
        bystander.kill()
    stopped = _cli("consortium", "status", "--dir", str(tmp_path))
    assert stopped.returncode == 1 and stopped.stdout.count("STOPPED") == 2
    changed = _cli("consortium", "up", "--members", "2", "--dir", str(tmp_path))
    assert changed.returncode == 1
    assert changed.stderr.count("\n") == 1 and "--members 1" in changed.stderr
    assert _cli("consortium", "status", "--dir", str(tmp_path)).stdout.count("STOPPED") == 2

    again = _cli("consortium", "up", "--dir", str(tmp_path))
    assert again.returncode == 0, again.stdout + again.stderr
    assert _chain_file(data)["contracts"] == contracts
    code, info = _call(base + "/v1/chain", headers=bearer(token))
    assert code == 200 and info["contracts"] == contracts
    assert _call(receipt_url, headers=bearer(token))[1] == receipt
    rpc_url = json.loads((tmp_path / "consortium.json").read_text())["anvil"]["rpc"]
    verified = _cli("verify", str(tmp_path / "receipt.json"), "--rpc", rpc_url)
    assert verified.returncode == 0 and "VERIFIED" in verified.stdout, verified.stdout
    assert _cli("consortium", "status", "--dir", str(tmp_path)).returncode == 0
    assert _cli("consortium", "up", "--dir", str(tmp_path)).returncode == 1  # already up


def test_status_exits_non_zero_while_a_node_is_stopped_and_up_restarts_it(consortium):
    root, _ = consortium
    state = json.loads((root / "consortium.json").read_text())
    victim = state["members"][2]
    os.kill(victim["pid"], signal.SIGKILL)
    wait_for(lambda: not psutil.pid_exists(victim["pid"]), 10, "the node to die")
    status = _cli("consortium", "status", "--dir", str(root))
    assert status.returncode == 1
    assert [line.split()[0] for line in status.stdout.splitlines() if "STOPPED" in line] == [
        victim["name"]
    ]
    again = _cli("consortium", "up", "--dir", str(root))
    assert again.returncode == 0, again.stdout + again.stderr
    assert _cli("consortium", "status", "--dir", str(root)).returncode == 0
    others = [m["pid"] for m in state["members"] if m is not victim] + [state["anvil"]["pid"]]
    after = json.loads((root / "consortium.json").read_text())
    assert [m["pid"] for m in after["members"] if m["name"] != victim["name"]] + [
        after["anvil"]["pid"]
    ] == others  # the others were left running


def test_up_refuses_in_one_line_a_directory_it_cannot_bring_back(gone):
    tmp_path = gone
    (tmp_path / "member-1" / "keys").mkdir(parents=True)
    refused = _cli("consortium", "up", "--members", "1", "--dir", str(tmp_path))
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "consortium.json" in refused.stderr and "Traceback" not in refused.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["member-1"]


# --- a member joining a consortium on a shared chain -----------------------------------------


def _found(rpc_url: str, data: Path) -> dict[str, str]:
    found = _cli("consortium", "found", "--rpc", rpc_url, "--data", str(data), "--name", "甲贷款")
    assert found.returncode == 0, found.stdout + found.stderr
    return _chain_file(data)["contracts"]


def test_node_pointed_at_a_chain_without_a_consortium_address_refuses_to_deploy(anvil, tmp_path):
    contracts = _found(anvil, tmp_path / "founder")
    assert set(contracts) == NAMED
    block = rpc(anvil, "eth_blockNumber")
    newcomer = tmp_path / "m4"
    run = subprocess.run(
        [sys.executable, "-m", "node.cli", "run", "--rpc", anvil, "--data", str(newcomer),
         "--port", str(free_port())],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2
    said = [line for line in run.stderr.splitlines() if line.startswith("creditchain:")]
    assert len(said) == 1 and "--consortium 0x" in said[0]
    assert f"creditchain consortium found --rpc {anvil}" in said[0]
    assert not (newcomer / "chain.json").exists()
    assert rpc(anvil, "eth_blockNumber") == block  # nothing deployed
    member = load_secrets(newcomer / "keys", create=False).member.address
    assert rpc(anvil, "eth_getTransactionCount", [member, "latest"]) == "0x0"

    env = {**os.environ, "CREDITCHAIN_CONSORTIUM": contracts[CONSORTIUM]}
    again = subprocess.run(  # the consortium named, but for another data directory
        [sys.executable, "-m", "node.cli", "consortium", "found", "--rpc", anvil,
         "--data", str(tmp_path / "founder")],
        cwd=REPO, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert again.returncode == 1 and "already belongs to the consortium" in again.stderr
    assert rpc(anvil, "eth_blockNumber") == block


def test_new_member_joins_with_the_consortium_address_and_anchors_once_admitted(anvil, tmp_path):
    """The README's steps, from `keys new` to a verified receipt."""
    founder, newcomer = tmp_path / "founder", tmp_path / "m4"
    contracts = _found(anvil, founder)
    founder_port, newcomer_port = free_port(), free_port()
    procs = [start_node_process(founder, founder_port, "--rpc", anvil, log=tmp_path / "f.log")]
    try:
        admin = tmp_path / "admin.token"
        admin.write_text(staff_token_in(founder))
        founder_url = f"http://127.0.0.1:{founder_port}"
        assert _cli("keys", "new", "--data", str(newcomer)).returncode == 0
        address = _cli("keys", "address", "--data", str(newcomer)).stdout.strip()
        key = "0x" + _public_key(load_secrets(newcomer / "keys", create=False).member)
        wait_http(founder_url + "/openapi.json", 120)
        admitted = _cli(
            "governance", "propose", "admit", address, "--name", "某小贷公司",
            "--public-key", key, "--node", founder_url, "--token-file", str(admin),
        )  # fmt: skip
        assert admitted.returncode == 0 and "executed" in admitted.stdout, admitted.stderr

        joined = ("--rpc", anvil, "--consortium", contracts[CONSORTIUM])
        procs.append(start_node_process(newcomer, newcomer_port, *joined, log=tmp_path / "m4.log"))
        base = f"http://127.0.0.1:{newcomer_port}"
        token = staff_token_in(newcomer)
        wait_http(base + "/v1/chain", 120, bearer(token))
        assert _chain_file(newcomer)["contracts"] == contracts
        code, answer = _call(base + "/v1/records", "POST", {"records": [person(4)]}, bearer(token))
        assert code == 200 and answer["accepted"] == 1
        url = base + f"/v1/records/{person(4)['record_id']}/receipt"
        wait_for(lambda: _call(url, headers=bearer(token))[0] == 200, 60, "the receipt")
        receipt = _call(url, headers=bearer(token))[1]
        assert receipt["registry"] == contracts["RecordRegistry"]
        (tmp_path / "receipt.json").write_text(json.dumps(receipt))
        verified = _cli("verify", str(tmp_path / "receipt.json"), "--rpc", anvil)
        assert verified.returncode == 0 and "VERIFIED" in verified.stdout, verified.stdout
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)


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


def test_a_consortium_that_does_not_list_its_contracts_starts_from_chain_json(
    tmp_path, monkeypatch
):
    """Consortiums deployed before contracts were kept by name: their nodes keep working."""
    data = tmp_path / "data"
    with TestClient(create_app(make_settings(data), run_batcher=False)):
        pass
    saved = _chain_file(data)["contracts"]

    def unlisted(*args: object, **kwargs: object) -> dict[str, str]:
        raise DeployError("the contract is not a Consortium that keeps its contracts by name")

    monkeypatch.setattr(setup, "discover", unlisted)
    with TestClient(create_app(make_settings(data), run_batcher=False)) as client:
        assert node_of(client).chain.addresses == saved
