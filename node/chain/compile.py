"""Compile the Solidity contracts with the pinned solc-js, through py-solc-x's standard JSON.

The result is cached on disk under a key that covers every source, the compiler version and
the settings, so a node that starts with unchanged contracts never starts Node.js.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import shutil

import solcx

from node.files import write_atomically

REPO = pathlib.Path(__file__).resolve().parents[2]
CONTRACTS_DIR = REPO / "contracts"
SOLC_BINARY = REPO / "scripts" / "solc"
DEFAULT_CACHE_DIR = REPO / "build" / "contracts"

# cancun runs on eth-tester's default PragueVM, on anvil, and on Besu with cancunTime set.
SETTINGS: dict = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
}

TOOLCHAIN_HINT = "run scripts/run or scripts/test to install the toolchain"


class CompilerNotFound(RuntimeError):
    """Node.js or the npm `solc` package is missing, and nothing usable is cached."""


def compile_contracts(
    cache_dir: pathlib.Path | None = None, sources_dir: pathlib.Path | None = None
) -> dict[str, dict]:
    """Return `{contract name: {"abi": [...], "bytecode": "0x..."}}` for `contracts/**/*.sol`
    (or `sources_dir/**/*.sol`, e.g. contracts that only tests deploy)."""
    cache_dir = DEFAULT_CACHE_DIR if cache_dir is None else pathlib.Path(cache_dir)
    sources_dir = CONTRACTS_DIR if sources_dir is None else pathlib.Path(sources_dir)
    sources = _read_sources(sources_dir)
    cache_file = cache_dir / f"{_cache_key(sources)}.json"
    if cache_file.is_file():
        return json.loads(cache_file.read_text(encoding="utf-8"))

    contracts = _compile(sources, sources_dir)
    write_atomically(cache_file, json.dumps(contracts, sort_keys=True))
    return contracts


def _read_sources(sources_dir: pathlib.Path) -> dict[str, str]:
    paths = sorted(sources_dir.rglob("*.sol"))
    if not paths:
        raise FileNotFoundError(f"no Solidity sources in {sources_dir}")
    return {p.relative_to(sources_dir).as_posix(): p.read_text(encoding="utf-8") for p in paths}


def _compiler_version() -> str:
    """The solc-js version, read from package files so that a cache hit needs no Node.js."""
    installed = REPO / "node_modules" / "solc" / "package.json"
    if installed.is_file():
        return json.loads(installed.read_text(encoding="utf-8"))["version"]
    pinned = json.loads((REPO / "package.json").read_text(encoding="utf-8"))
    return pinned["dependencies"]["solc"]


def _cache_key(sources: dict[str, str]) -> str:
    material = json.dumps(
        {"sources": sources, "compiler": _compiler_version(), "settings": SETTINGS},
        sort_keys=True,
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _compile(sources: dict[str, str], sources_dir: pathlib.Path) -> dict[str, dict]:
    if shutil.which("node") is None:
        raise CompilerNotFound(f"Node.js (`node`) is not on PATH; {TOOLCHAIN_HINT}")
    if not (REPO / "node_modules" / "solc" / "package.json").is_file():
        raise CompilerNotFound(
            f"npm package solc is not in {REPO / 'node_modules'}; {TOOLCHAIN_HINT}"
        )

    output = solcx.compile_standard(
        {
            "language": "Solidity",
            "sources": {name: {"content": text} for name, text in sources.items()},
            "settings": SETTINGS,
        },
        base_path=sources_dir,
        allow_paths=[sources_dir],
        solc_binary=SOLC_BINARY,
    )
    contracts: dict[str, dict] = {}
    for source, by_name in sorted(output["contracts"].items()):
        for name, artefact in sorted(by_name.items()):
            if name in contracts:
                raise ValueError(f"contract name {name} is defined twice (again in {source})")
            contracts[name] = {
                "abi": artefact["abi"],
                "bytecode": "0x" + artefact["evm"]["bytecode"]["object"],
            }
    return contracts
