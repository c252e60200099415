"""The API the node documents at /openapi.json is the one it serves: schemathesis sends
requests made from that description, valid and invalid, to a node on the embedded chain, as
its admin, and every answer must be neither a 5xx nor one the description does not allow
(status, content type, headers, body), with all of schemathesis' checks on.

The run is derandomized: the same requests on every run, so a failure here reproduces."""

from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from starlette.types import Receive, Scope, Send

from node.app import create_app
from tests.conftest import bearer, make_settings, pubkey, staff_token_in

# Disabling accounts is left out: a generated request could disable the admin the run calls as.
LEFT_OUT = r"/disable$"
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {"enabled": True},
        # integers past 64 bits, where SQLite and the EVM's uint256 stop
        "dictionaries": {"huge": {"values": [2**63, 2**64 + 1, 2**256, -(2**63) - 1]}},
        "generation": {
            "deterministic": True,
            "with-security-parameters": False,  # the admin's token, sent by the test
            "dictionaries": {"integer": {"dictionary": "huge", "probability": 0.5}},
        },
        # ?version= is `integer or null`, which the binding by type does not reach
        "parameters": {"version": {"dictionary": "huge", "probability": 0.5}},
        "phases": {"stateful": {"enabled": False}},  # no links between operations to follow
    }
)


class NodeUnderTest:
    """The ASGI app schemathesis calls: the node the `admin` fixture made for this module.
    Schemathesis starts its lifespan at the first request and keeps it for the module.
    (The schema is loaded at import, with this app, because schemathesis' lazy
    `from_fixture` does not run under pytest 9.)"""

    app: FastAPI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "the admin fixture makes the node"
        await self.app(scope, receive, send)


NODE = NodeUnderTest()
# The description /openapi.json serves (the node need not run to make it).
DESCRIPTION = create_app(run_batcher=False).openapi()
schema = schemathesis.openapi.from_dict(DESCRIPTION, config=CONFIG)
schema.app = NODE
schema = schema.exclude(path_regex=LEFT_OUT)


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A node on a fresh embedded chain for NODE; the headers of its admin."""
    data = tmp_path_factory.mktemp("contract") / "data"
    token = staff_token_in(data, "admin")
    NODE.app = create_app(make_settings(data), run_batcher=False)
    try:
        yield bearer(token)
    finally:
        shutdown_lifespans()  # the node's, started by schemathesis
        NODE.app = None


def validator(schema: dict[str, Any], doc: dict[str, Any] = DESCRIPTION) -> Any:
    """A JSON Schema validator for `schema`, its references resolved in `doc`."""
    return jsonschema_rs.validator_for(
        {**schema, "components": doc["components"]}, validate_formats=True
    )


def records_answered_one_by_one(ctx: CheckContext, response: Response, case: Case) -> None:
    """POST /v1/records answers each record on its own, so a record the description refuses
    is not a 4xx for the whole body: it must come back rejected in the 200 answer. Anything
    else wrong with the body must be refused as a whole."""
    if not (case.meta and case.meta.is_negative_at(ParameterLocation.BODY)):
        return
    if response.status_code != 200:
        return  # refused as a whole: the built-in checks judge the status
    body, answer = case.body, response.json()
    assert isinstance(body, dict) and set(body) == {"records"}, "a malformed body was accepted"
    assert isinstance(body["records"], list) and 1 <= len(body["records"]) <= 10_000
    record_in = validator({"$ref": "#/components/schemas/RecordIn"})
    for record, result in zip(body["records"], answer["results"], strict=True):
        if not record_in.is_valid(record):
            assert result["status"] == "rejected", f"accepted a record the schema refuses: {result}"


def applicants_answered_one_by_one(ctx: CheckContext, response: Response, case: Case) -> None:
    """POST /v1/blacklist/checks answers each applicant on its own, as /v1/records does its
    records: an applicant the description refuses comes back invalid in the 200 answer."""
    if not (case.meta and case.meta.is_negative_at(ParameterLocation.BODY)):
        return
    if response.status_code != 200:
        return
    body, answer = case.body, response.json()
    assert isinstance(body, dict) and set(body) == {"applicants"}, "a malformed body was accepted"
    assert isinstance(body["applicants"], list) and 1 <= len(body["applicants"]) <= 100_000
    applicant = validator({"$ref": "#/components/schemas/Applicant"})
    for one, result in zip(body["applicants"], answer["results"], strict=True):
        if not applicant.is_valid(one):
            assert result["result"] == "invalid", f"answered a refused applicant: {result}"


def only_the_curve_unsaid(ctx: CheckContext, response: Response, case: Case) -> None:
    """A public key must be a point on secp256k1, which no JSON Schema can say: a proposal
    the description allows may be refused for that, naming public_key, and for nothing else."""
    if case.meta and case.meta.generation.mode.is_positive and response.status_code == 422:
        assert response.json()["field"] == "public_key", f"refused: {response.json()}"


def only_the_rules_no_schema_says(ctx: CheckContext, response: Response, case: Case) -> None:
    """What no JSON Schema can say about a notice or a listing: an identifier's check
    character, a notice time not later than now, an expiry within ten years of now. A request
    the description allows may be refused for these, naming the field, and for nothing else."""
    if case.meta and case.meta.generation.mode.is_positive and response.status_code == 422:
        unsaid = ("subject.id_number", "noticed_at", "event_end_date")
        assert response.json()["field"] in unsaid, f"refused: {response.json()}"


def only_the_check_character_unsaid(ctx: CheckContext, response: Response, case: Case) -> None:
    """An identifier's check character (GB 11643, GB 32100) is no JSON Schema either: a
    binding the description allows may be refused for it, naming subject.id_number alone."""
    if case.meta and case.meta.generation.mode.is_positive and response.status_code == 422:
        assert response.json()["field"] == "subject.id_number", f"refused: {response.json()}"


def only_the_target_unsaid(ctx: CheckContext, response: Response, case: Case) -> None:
    """What no JSON Schema can say about an objection: which fields its kind needs (a record's
    anchor or record_id, an entry's id), whether the proof leads to a batch on chain, whether
    the entry is about the subject, the identifier's check character. A request the
    description allows may be refused for these, naming the field, and for nothing else."""
    if case.meta and case.meta.generation.mode.is_positive and response.status_code == 422:
        unsaid = ("subject.id_number", "commitment", "entry_id", "anchor", "anchor.proof",
                  "anchor.batch_id", "target", "proof")  # fmt: skip
        assert response.json()["field"] in unsaid, f"refused: {response.json()}"


def only_two_equal_times_unsaid(ctx: CheckContext, response: Response, case: Case) -> None:
    """Office hours that start when they end match the documented HH:MM-HH:MM pattern, and
    no pattern the generator can read says the two differ: rules the description allows may
    be refused for that, naming office_hours, and for nothing else."""
    if case.meta and case.meta.generation.mode.is_positive and response.status_code == 422:
        assert response.json()["field"] == "office_hours", f"refused: {response.json()}"


# operation -> (built-in check it replaces, the check that says what the operation promises)
INSTEAD = {
    "POST /v1/records": (negative_data_rejection, records_answered_one_by_one),
    "POST /v1/proposals": (positive_data_acceptance, only_the_curve_unsaid),
    "POST /v1/blacklist/checks": (negative_data_rejection, applicants_answered_one_by_one),
    "POST /v1/blacklist/notices": (positive_data_acceptance, only_the_rules_no_schema_says),
    "POST /v1/blacklist/entries": (positive_data_acceptance, only_the_rules_no_schema_says),
    "POST /v1/bindings": (positive_data_acceptance, only_the_check_character_unsaid),
    "POST /v1/disputes/objections": (positive_data_acceptance, only_the_target_unsaid),
    "POST /v1/disputes/signed": (positive_data_acceptance, only_the_target_unsaid),
    "POST /v1/disputes/objections/{objection_id}/ruling": (
        positive_data_acceptance, only_the_target_unsaid),
    "GET /v1/regulator/patterns": (positive_data_acceptance, only_two_equal_times_unsaid),
}  # fmt: skip


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_answer_is_documented(case: schemathesis.Case, admin: dict[str, str]) -> None:
    builtin, instead = INSTEAD.get(case.operation.label, (None, None))
    case.call_and_validate(
        headers=admin,
        excluded_checks=[builtin] if builtin else None,
        additional_checks=[instead] if instead else None,
    )


def test_the_description_is_self_contained(node_client: TestClient) -> None:
    """Every $ref points into the document, and every error answer is the one Error body."""
    doc = node_client.get("/openapi.json").json()
    assert "#/$defs/" not in str(doc) and "HTTPValidationError" not in str(doc)
    refs = {r.removeprefix("#/components/schemas/") for r in _refs(doc)}
    assert refs <= set(doc["components"]["schemas"]), refs - set(doc["components"]["schemas"])
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                if status[0] in "45":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)


def test_a_wrong_method_is_told_every_method_of_the_path(node_client: TestClient) -> None:
    resp = node_client.delete("/v1/staff")
    assert resp.status_code == 405 and resp.json()["error"] == "method_not_allowed"
    assert resp.headers["Allow"] == "GET, POST"


ADDRESS = "0x" + "ab" * 20
KEY = pubkey(ADDRESS).hex()
REFUSED = [  # bodies the description refuses, and the field the node names in refusing them
    ("/v1/staff", {"name": "张三", "role": "submitter"}, "name"),
    ("/v1/staff", {"name": "é", "role": "submitter"}, "name"),
    ("/v1/staff", {"name": "", "role": "submitter"}, "name"),
    ("/v1/staff", {"name": "x" * 65, "role": "submitter"}, "name"),
    ("/v1/records", {"records": []}, "records"),
    ("/v1/records", {"records": [], "note": ""}, "records"),
    ("/v1/proposals", {"action": "admit", "subject": ADDRESS, "public_key": KEY}, "name"),
    ("/v1/proposals", {"action": "admit", "subject": ADDRESS, "name": "某贷款公司"}, "public_key"),
    ("/v1/proposals", {"action": "suspend", "subject": "0x" + "0" * 40}, "subject"),
]


@pytest.mark.parametrize(("path", "body", "field"), REFUSED)
def test_what_the_description_refuses_the_node_refuses(
    node_client: TestClient, path: str, body: dict, field: str
) -> None:
    doc = node_client.get("/openapi.json").json()
    body_schema = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    assert not validator(body_schema["schema"], doc).is_valid(body)
    resp = node_client.post(path, json=body)
    assert resp.status_code == 422 and resp.json()["field"] == field, resp.text


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)
