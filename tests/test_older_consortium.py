"""A node whose consortium was founded before the Disputes and RepairCases contracts existed
(an embedded chain kept from an earlier version, say): it starts, serves its records and
reads as before, and refuses only what needs the missing contracts, naming the rule, with
nothing sent to the chain."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from unittest import mock

import pytest
from fastapi.testclient import TestClient

import node.chain.deploy as deploy
from node.app import create_app
from node.run import _OneLineRefusal
from tests.conftest import authorize, make_settings, node_of, person, submit

BEFORE = ("RecordRegistry", "Blacklist", "ConsentRegistry")


def test_a_consortium_without_the_later_contracts_runs_and_refuses_only_their_requests(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    with mock.patch.object(deploy, "DEPLOY_LIST", BEFORE):
        with TestClient(create_app(make_settings(data), run_batcher=False)) as old:
            authorize(old)
            submit(old, [person(1)])
            node_of(old).batcher.drain()
    record_id = person(1)["record_id"]

    with caplog.at_level(logging.WARNING, logger="creditchain.chain"):
        client = TestClient(create_app(make_settings(data), run_batcher=False))
        client.__enter__()
    try:
        authorize(client)
        assert any("has no Disputes, RepairCases" in r.getMessage() for r in caplog.records)
        node = node_of(client)
        assert "Disputes" not in node.chain.addresses
        assert client.get("/readyz").status_code == 200
        shown = client.get(f"/v1/records/{record_id}")
        assert shown.status_code == 200 and shown.json()["chain_status"] == "active"
        assert client.get("/v1/disputes/sla").json()["members"] == []
        directory = client.get("/v1/borrower/directory").json()
        assert set(directory["contracts"]) == {"RecordRegistry", "ConsentRegistry"}

        head = node.chain.client.block_number()
        filed = client.post("/v1/disputes/objections", json={
            "subject": {"type": "person", "id_number": person(1)["subject"]["id_number"]},
            "kind": "record", "record_id": record_id, "reasons": "not my loan"})  # fmt: skip
        assert filed.status_code == 409, filed.text
        assert filed.json()["error"] == "no_disputes_contract"
        assert "proposeContract" in filed.json()["detail"]
        case = client.post("/v1/repairs", json={
            "record_id": record_id, "ground": "error",
            "evidence_hash": "0x" + "ab" * 32})  # fmt: skip
        assert case.status_code == 409, case.text
        assert case.json()["error"] == "no_repair_cases_contract"
        assert node.chain.client.block_number() == head  # nothing was sent
    finally:
        client.__exit__(None, None, None)


def test_a_registry_older_than_the_node_is_named_at_start_not_failed_on_later(
    node_client: TestClient,
) -> None:
    """A RecordRegistry without the expiry bitmap (deployed by an earlier version) would
    refuse every expiry and status read later: the node says so when it finds the consortium.
    (Another contract of the consortium stands in for the older registry.)"""
    chain = node_of(node_client).chain
    compiled = {"RecordRegistry": {"abi": chain.abis["RecordRegistry"]}}
    deploy.require_current_registry(chain.client, compiled, chain.addresses["RecordRegistry"])
    with pytest.raises(deploy.DeployError) as refused:
        deploy.require_current_registry(chain.client, compiled, chain.addresses["Blacklist"])
    assert "is an older version than this node" in str(refused.value)
    assert "new --data directory" in str(refused.value)


def test_a_refused_start_is_said_in_one_line_not_a_traceback() -> None:
    """On the embedded chain the consortium is found inside the app's start-up, where uvicorn
    would log the whole traceback: `creditchain run` says the refusal alone."""
    try:
        raise deploy.DeployError("the consortium's RecordRegistry at 0xE2 is an older version")
    except deploy.DeployError:
        text = traceback.format_exc()
    record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, text, (), None)
    assert _OneLineRefusal().filter(record)
    assert record.getMessage() == (
        "creditchain: the consortium's RecordRegistry at 0xE2 is an older version"
    )
    other = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1,
                              "Traceback ...\nValueError: x", (), None)  # fmt: skip
    assert _OneLineRefusal().filter(other) and other.getMessage().endswith("ValueError: x")
