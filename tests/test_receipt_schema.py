"""/docs says what a receipt holds, and what the route answers is exactly that."""

from fastapi.testclient import TestClient

from tests.conftest import node_of, person, submit

RECEIPT_FIELDS = {
    "version", "record", "salt", "commitment", "batch_id", "leaf_index", "tree_size",
    "proof", "root", "chain_id", "registry", "tx_hash", "block_number",
}  # fmt: skip


def test_the_receipt_route_documents_every_field_it_answers(node_client: TestClient) -> None:
    spec = node_client.get("/openapi.json").json()
    ok = spec["paths"]["/v1/records/{record_id}/receipt"]["get"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(schema["properties"]) == RECEIPT_FIELDS
    assert set(schema["required"]) == RECEIPT_FIELDS
    assert all(prop.get("type") for prop in schema["properties"].values())

    rec = person(1)
    submit(node_client, [rec, person(2)])
    node_of(node_client).batcher.drain()
    answer = node_client.get(f"/v1/records/{rec['record_id']}/receipt")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert set(answer.json()) == RECEIPT_FIELDS
    kinds = {"integer": int, "string": str, "array": list, "object": dict}
    for name, value in answer.json().items():  # each of the type /docs says
        assert isinstance(value, kinds[schema["properties"][name]["type"]]), name
