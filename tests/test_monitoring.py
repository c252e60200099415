"""GET /metrics, /healthz and /readyz, and JSON logs: what an operator's Prometheus, load
balancer and log shipper read, with no identity and no token in any of it."""

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from node.app import create_app
from node.crypto.subjects import make_resident_id
from tests.conftest import (
    anvil_chain,
    bearer,
    free_port,
    make_settings,
    node_of,
    person,
    staff_token_in,
    start_node_process,
    submit,
    wait_for,
    wait_http,
)

NAME = "欧阳明月"  # a name that appears nowhere else in the node's output
ID_NUMBER = make_resident_id(424242)


def scrape(client: TestClient) -> tuple[str, dict[tuple[str, tuple], float]]:
    """GET /metrics without any token: its text and every sample, parsed by the Prometheus
    text parser, by (name, sorted labels)."""
    resp = client.get("/metrics", headers={"Authorization": ""})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }
    return resp.text, samples


def value(samples: dict[tuple[str, tuple], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def known_records() -> list[dict[str, Any]]:
    """Two good records about one known person, and one with a wrong check character."""
    subject = {"type": "person", "id_number": ID_NUMBER, "name": NAME}
    bad = ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1")
    return [
        person(1, record_id="MON-1", subject=subject),
        person(2, record_id="MON-2", subject=subject, kind="repayment", days_past_due=None),
        person(3, record_id="MON-3", subject={"type": "person", "id_number": bad, "name": NAME}),
    ]


def test_metrics_count_submissions_and_anchoring_and_hold_no_identity(node_client):
    token = node_client.headers["Authorization"].removeprefix("Bearer ")
    _, before = scrape(node_client)

    answer = submit(node_client, known_records())
    assert (answer["accepted"], answer["rejected"]) == (2, 1)
    _, submitted = scrape(node_client)
    accepted = "creditchain_records_accepted_total"
    rejected = "creditchain_records_rejected_total"
    assert value(submitted, accepted) - value(before, accepted) == 2
    assert (
        value(submitted, rejected, field="subject.id_number")
        - value(before, rejected, field="subject.id_number")
        == 1
    )
    assert value(submitted, "creditchain_records_pending") == 2
    assert value(submitted, "creditchain_anchoring_lag_seconds") > 0

    node_of(node_client).batcher.drain()
    record = node_client.get("/v1/records/MON-1").json()["record"]
    text, anchored = scrape(node_client)
    batches = "creditchain_batches_anchored_total"
    assert value(anchored, batches) - value(submitted, batches) == 1
    assert value(anchored, "creditchain_records_pending") == 0
    assert value(anchored, "creditchain_anchoring_lag_seconds") == 0
    # latency by route template, the record id not in it (the counters are the process's:
    # other nodes in this process may have been asked before)
    timed = "creditchain_http_request_duration_seconds_count"
    reads = {"method": "GET", "route": "/v1/records/{record_id}", "status": "2xx"}
    assert value(anchored, timed, **reads) - value(submitted, timed, **reads) == 1
    for secret in (NAME, ID_NUMBER, record["subject_key"], record["subject_key"][2:], token):
        assert secret not in text
    assert "MON-1" not in text


def test_the_index_lag_is_the_chain_head_less_the_indexed_block(node_client):
    node = node_of(node_client)
    wait_for(lambda: node.index.head is not None and node.index.step() is False, what="index")
    _, samples = scrape(node_client)
    head = value(samples, "creditchain_chain_head_block")
    indexed = value(samples, "creditchain_indexed_block")
    assert head >= indexed > 0
    assert value(samples, "creditchain_index_lag_blocks") == head - indexed


def test_rejections_are_labelled_by_schema_field_never_by_what_was_sent(node_client):
    _, before = scrape(node_client)
    stray = {ID_NUMBER: "x"}  # an ID number sent as a field name
    answer = submit(node_client, [person(5, **stray)])
    assert answer["rejected"] == 1
    text, after = scrape(node_client)
    rejected = "creditchain_records_rejected_total"
    assert value(after, rejected, field="other") - value(before, rejected, field="other") == 1
    assert ID_NUMBER not in text and ID_NUMBER[:8] not in text


def test_probes_and_metrics_need_no_token(node_client):
    anonymous = {"Authorization": ""}
    assert node_client.get("/healthz", headers=anonymous).json() == {"status": "ok"}
    ready = node_client.get("/readyz", headers=anonymous)
    assert ready.status_code == 200, ready.text
    assert ready.json()["parts"] == {"store": "ok", "chain": "ok", "index": "ok"}
    assert node_client.get("/v1/status", headers=anonymous).status_code == 401


def test_the_api_description_lists_the_probes_open_to_anyone(node_client):
    paths = node_client.get("/openapi.json").json()["paths"]
    for path in ("/healthz", "/readyz", "/metrics"):
        assert "Roles: open to anyone" in paths[path]["get"]["description"]
    assert "503" in paths["/readyz"]["get"]["responses"]
    assert "text/plain" in paths["/metrics"]["get"]["responses"]["200"]["content"]


def test_readyz_says_the_chain_is_not_ready_once_it_is_gone(tmp_path):
    with anvil_chain() as (url, anvil):
        app = create_app(make_settings(tmp_path / "data", url), run_batcher=False)
        with TestClient(app) as client:
            assert client.get("/readyz").status_code == 200
            anvil.terminate()
            anvil.wait(10)
            resp = client.get("/readyz")
            assert resp.status_code == 503, resp.text
            body = resp.json()
            assert body["error"] == "not_ready"
            assert body["parts"]["store"] == "ok"
            assert body["parts"]["chain"].startswith("unreachable")
            assert body["parts"]["index"] != "ok"
            assert url not in resp.text  # an RPC URL may carry credentials
            assert client.get("/healthz").status_code == 200


def test_json_logs_are_one_object_per_line_with_no_identity_or_token(tmp_path: Path):
    data, port, log = tmp_path / "data", free_port(), tmp_path / "node.log"
    proc = start_node_process(
        data, port, "--log-format", "json", "--log-level", "debug", "--workers", "0", log=log
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/healthz")
        token = staff_token_in(data, "admin")
        resp = httpx.post(
            base + "/v1/records",
            json={"records": known_records()},
            headers=bearer(token),
            timeout=60,
        )
        assert resp.status_code == 200 and resp.json()["accepted"] == 2, resp.text
        wait_for(
            lambda: (
                httpx.get(base + "/v1/records/MON-1/receipt", headers=bearer(token)).status_code
                == 200
            ),
            what="anchoring",
        )
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    lines = [line for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(e, dict) and {"time", "level", "logger", "message"} <= e.keys()
               for e in entries)  # fmt: skip
    messages = "\n".join(e["message"] for e in entries)
    assert "listening on" in messages and "batch" in messages
    text = log.read_text(encoding="utf-8")
    for secret in (NAME, ID_NUMBER, token):
        assert secret not in text


def test_an_unknown_log_format_is_refused_naming_the_option(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "node.cli", "run", "--data", str(tmp_path / "d"),
         "--log-format", "xml"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--log-format (or CREDITCHAIN_LOG_FORMAT)" in done.stderr
    assert not (tmp_path / "d").exists()
