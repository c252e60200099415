"""A token carries the tag of the node that made it: one sent to the wrong node is refused for
what it is and counts against no one there; tokens of the earlier, untagged form still work."""

from pathlib import Path

from fastapi.testclient import TestClient

from node.db import make_engine
from node.staff import service
from tests.conftest import bearer, node_of, staff_token


def _other_nodes_token(tmp_path: Path, role: str = "admin") -> str:
    """A token made by another node's store: its account id is 1, as this node's admin's."""
    engine = make_engine(tmp_path / "other" / "node.db")
    try:
        return service.add(engine=engine, name="their-admin", role=role).token
    finally:
        engine.dispose()


def test_another_nodes_token_is_refused_as_such_and_counts_against_no_one(
    node_client: TestClient, tmp_path: Path
) -> None:
    theirs = _other_nodes_token(tmp_path)
    settings = node_of(node_client).settings
    tries = settings.staff_max_failures + settings.staff_slowdown_after + 3
    for _ in range(tries):  # past both the lock and the slow-down, were they counted
        answer = node_client.get("/v1/status", headers=bearer(theirs))
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "other_node_token"
        assert "another node" in answer.json()["detail"]
        assert theirs not in answer.text

    accounts = node_client.get("/v1/staff").json()  # as this node's admin, from the same address
    assert [(a["failed_attempts"], a["locked_sources"]) for a in accounts] == [(0, 0)]
    assert node_client.get("/v1/status").status_code == 200
    entries = node_client.get("/v1/operator-log", params={"limit": 1000}).json()["entries"]
    refused = [e for e in entries if e["outcome"] == "other_node"]
    assert [(e["who"], e["status"], e["count"]) for e in refused] == [
        ("unauthenticated", 401, tries)
    ]


def test_this_nodes_tokens_carry_its_tag_and_untagged_ones_still_work(
    node_client: TestClient,
) -> None:
    first, second = staff_token(node_client, "submitter"), staff_token(node_client, "submitter")
    tag, account_id, secret = first.split("_", 3)[1:]
    assert second.split("_")[1] == tag and not tag.isdigit() and len(tag) == 8
    assert node_client.get("/v1/status", headers=bearer(first)).status_code == 200
    earlier_form = f"cc_{account_id}_{secret}"  # as tokens were made before the tag
    assert node_client.get("/v1/status", headers=bearer(earlier_form)).status_code == 200
    wrong = f"cc_{account_id}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}"
    assert node_client.get("/v1/status", headers=bearer(wrong)).json()["error"] == (
        "unauthenticated"
    )
    failed = {a["name"]: a["failed_attempts"] for a in node_client.get("/v1/staff").json()}
    assert failed["submitter-2"] == 1  # a wrong secret for this node's account still counts
