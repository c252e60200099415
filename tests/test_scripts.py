"""The benchmark scripts stay runnable as the tree moves: what they import exists, and each
answers --help; the capacity projection adds up."""

import ast
import importlib
import importlib.util
import json
import math
import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPTS = sorted([*(REPO / "scripts").glob("bench_*.py"), REPO / "scripts" / "capacity.py"])


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_what_a_benchmark_imports_from_the_node_exists(script):
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("node"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                sub = (
                    importlib.util.find_spec(f"{node.module}.{alias.name}")
                    if hasattr(module, "__path__")
                    else None
                )
                assert hasattr(module, alias.name) or sub, f"{node.module}.{alias.name}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_a_benchmark_answers_help(script):
    done = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "usage" in done.stdout.lower()


@pytest.mark.anvil
def test_the_capacity_projection_adds_up_from_the_gas_it_measured():
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "capacity.py"), "--quick"],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    kinds, total, capacity = result["kinds"], result["total"], result["capacity"]
    assert set(kinds) == {"anchorBatch", "supersede", "bind", "registerConsent", "revokeConsent",
                          "registerNotice", "list", "delist", "markExpired",
                          "expireLeaves", "fileFor", "fileSigned", "answer:rejected",
                          "answer:unresolved", "answer:upheld", "rule:upheld"}  # fmt: skip
    assert "governance votes" in result["not_measured"]
    assert not any("objection" in m for m in result["not_measured"])
    assert result["assumptions"]["objections_per_day"] > 0
    filed = sum(kinds[fn]["tx_per_s"] for fn in ("fileFor", "fileSigned"))
    closed = sum(k["tx_per_s"] for fn, k in kinds.items() if fn.startswith(("answer:", "rule:")))
    assert math.isclose(filed, closed)  # each objection closed once
    marked = result["measured"]["expireLeaves"]  # bits in a batch's bitmap, no proof
    assert marked["marks"] >= marked["words"] >= 1 and marked["gas_per_mark"] < 21_000
    # one expireLeaves transaction for each batch and day its records expire on
    assert math.isclose(kinds["expireLeaves"]["tx_per_s"], kinds["anchorBatch"]["tx_per_s"])
    assert capacity["gas_per_s"] == capacity["block_gas_limit"] / capacity["block_period_s"]
    for fn, k in kinds.items():
        assert k["gas"] == result["measured"][fn]["gas"] > 21_000  # sent and mined for real
        assert k["calldata_bytes"] >= 4
        assert math.isclose(k["tx_per_s"] * 86_400, k["tx_per_day"], abs_tol=1)
        assert math.isclose(k["gas_per_s"], k["tx_per_s"] * k["gas"])
        assert math.isclose(k["share_tx"], k["tx_per_s"] / capacity["tx_per_s"])
        assert math.isclose(k["share_gas"], k["gas_per_s"] / capacity["gas_per_s"])
    for field in ("tx_per_s", "gas_per_s", "share_tx", "share_gas"):
        assert math.isclose(total[field], sum(k[field] for k in kinds.values()))
    assert result["under_10_percent"] == (max(total["share_tx"], total["share_gas"]) < 0.10)
    assert "objection" in done.stdout
    assert f"{total['share_tx']:.2%}" in done.stdout and f"{total['share_gas']:.2%}" in done.stdout
