"""The benchmark scripts stay runnable as the tree moves: what they import exists, and each
answers --help."""

import ast
import importlib
import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPTS = sorted((REPO / "scripts").glob("bench_*.py"))


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
