"""`creditchain consortium besu-config`: the Besu QBFT network it writes is what Besu reads.

No Besu runs here, so each file is checked against what Besu documents: the genesis extraData
against QBFT's RLP layout and a published vector, the TOML and YAML by their parsers, the
enode URLs against the keys written beside them."""

import json
import stat
import tomllib
from pathlib import Path

import pytest
import rlp
import yaml
from eth_keys import keys
from fastapi.testclient import TestClient

from node.app import create_app
from node.cli import main
from node.consortium.besu import qbft_extra_data
from node.receipts.verify import verify_receipt
from tests.conftest import anvil_chain, authorize, make_settings, node_of, person, submit

# The QBFT genesis in Besu's documentation ("Configure QBFT consensus", block header validator
# selection: hyperledger/besu-docs, docs/private-networks/how-to/configure/consensus/qbft.md)
# and the four validator addresses its extraData lists.
BESU_DOCS_VALIDATORS = [
    "0x64a702e6263b7297a96638cac6ae65e6541f4169",
    "0x3923390ad55e90c237593b3b0e401f3b08a03185",
    "0xaefdb9a738c9f433e5b6b212a6d62f6370c2f692",
    "0xc7eeb9a4e00ce683cf93039b212648e01c6c6b78",
]
BESU_DOCS_EXTRA_DATA = (
    "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f8549464a702e6263b"
    "7297a96638cac6ae65e6541f4169943923390ad55e90c237593b3b0e401f3b08a0318594aefdb9a738c9f433e5"
    "b6b212a6d62f6370c2f69294c7eeb9a4e00ce683cf93039b212648e01c6c6b78c080c0"
)
# the same page's genesis for contract validator selection: no validator in the header
BESU_DOCS_EMPTY_EXTRA_DATA = (
    "0xe5a00000000000000000000000000000000000000000000000000000000000000000c0c080c0"
)


def _besu_config(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["consortium", "besu-config", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def network(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    root = tmp_path / "besu"
    code, out, err = _besu_config(capsys, "--validators", "4", "--dir", str(root),
                                  "--chain-id", "4242")  # fmt: skip
    assert code == 0, err
    return root, out


def _node_keys(root: Path) -> dict[str, keys.PrivateKey]:
    return {d.name: keys.PrivateKey(bytes.fromhex(d.joinpath("key").read_text().strip()[2:]))
            for d in sorted(root.glob("validator-*"))}  # fmt: skip


def test_our_encoder_gives_the_extra_data_besu_documents() -> None:
    assert qbft_extra_data(BESU_DOCS_VALIDATORS) == BESU_DOCS_EXTRA_DATA
    assert qbft_extra_data([]) == BESU_DOCS_EMPTY_EXTRA_DATA


def test_the_genesis_is_a_zero_gas_qbft_genesis(network: tuple[Path, str]) -> None:
    genesis = json.loads((network[0] / "genesis.json").read_text())
    config = genesis["config"]
    assert config["chainId"] == 4242
    assert config["zeroBaseFee"] is True
    assert config["londonBlock"] == 0 and config["cancunTime"] == 0  # the contracts are cancun
    assert config["contractSizeLimit"] > 24_576
    assert config["qbft"]["blockperiodseconds"] == 2
    assert int(genesis["gasLimit"], 16) >= 30_000_000
    assert genesis["difficulty"] == "0x1"
    assert genesis["alloc"] == {}  # nothing to fund: gas is free


def test_the_extra_data_lists_exactly_the_validators_whose_keys_were_written(
    network: tuple[Path, str],
) -> None:
    root, _ = network
    genesis = json.loads((root / "genesis.json").read_text())
    vanity, validators, votes, round_, seals = rlp.decode(bytes.fromhex(genesis["extraData"][2:]))
    assert vanity == b"\x00" * 32
    assert votes == [] and round_ == b"" and seals == []
    expected = [k.public_key.to_canonical_address() for k in _node_keys(root).values()]
    assert len(expected) == 4
    assert validators == expected


def test_each_node_is_configured_for_a_permissioned_zero_gas_network(
    network: tuple[Path, str],
) -> None:
    root, _ = network
    node_keys = _node_keys(root)
    enodes = {}
    for name, key in node_keys.items():
        public = key.public_key.to_bytes().hex()
        config = tomllib.loads((root / name / "config.toml").read_text())
        enodes[name] = f"enode://{public}@{config['p2p-host']}:{config['p2p-port']}"
        assert (root / name / "key.pub").read_text().strip() == "0x" + public
        assert config["min-gas-price"] == 0
        assert config["rpc-http-enabled"] is True
        assert {"ETH", "NET", "WEB3"} <= set(config["rpc-http-api"])
        assert config["permissions-nodes-config-file-enabled"] is True
        assert config["node-private-key-file"] == "/node/key"
    for name in node_keys:
        config = tomllib.loads((root / name / "config.toml").read_text())
        assert sorted(config["bootnodes"]) == sorted(e for n, e in enodes.items() if n != name)
        allowed = tomllib.loads((root / name / "permissions_config.toml").read_text())
        assert sorted(allowed["nodes-allowlist"]) == sorted(enodes.values())
    published = json.loads((root / "network.json").read_text())
    assert {v["name"]: v["enode"] for v in published["validators"]} == enodes


def test_the_compose_file_runs_every_validator_on_its_own_directory(
    network: tuple[Path, str],
) -> None:
    root, _ = network
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    services = compose["services"]
    assert sorted(services) == [f"validator-{n}" for n in range(1, 5)]
    hosts, ports = set(), set()
    for name, service in services.items():
        assert f"./{name}:/node" in service["volumes"]
        assert service["command"] == ["--config-file=/node/config.toml"]
        ip = service["networks"]["qbft"]["ipv4_address"]
        assert tomllib.loads((root / name / "config.toml").read_text())["p2p-host"] == ip
        hosts.add(ip)
        ports.update(p.rsplit(":", 2)[1] for p in service["ports"])
        assert all(p.startswith("127.0.0.1:") for p in service["ports"])
    assert len(hosts) == 4 and len(ports) == 4


def test_node_keys_are_private_and_never_printed(network: tuple[Path, str]) -> None:
    root, out = network
    for name, key in _node_keys(root).items():
        assert stat.S_IMODE((root / name / "key").stat().st_mode) == 0o600
        assert key.to_hex()[2:] not in out
        assert key.public_key.to_checksum_address() in out
    assert key.to_hex()[2:] not in (root / "README.md").read_text()
    assert key.to_hex()[2:] not in (root / "network.json").read_text()


def test_the_readme_says_how_a_member_node_uses_the_network(network: tuple[Path, str]) -> None:
    text = (network[0] / "README.md").read_text()
    assert "--rpc http://127.0.0.1:8545" in text
    assert "--confirmations 0" in text
    assert "--consortium" in text


@pytest.mark.parametrize("count", ["0", "-1", "65"])
def test_a_bad_validator_count_is_refused_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], count: str
) -> None:
    root = tmp_path / "besu"
    code, out, err = _besu_config(capsys, "--validators", count, "--dir", str(root))
    assert code == 2
    assert "--validators" in err
    assert not root.exists()


def test_a_directory_in_use_is_kept_unless_forced(
    network: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = network
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    code, _, err = _besu_config(capsys, "--validators", "4", "--dir", str(root))
    assert code == 2
    assert "--force" in err
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    code, _, err = _besu_config(capsys, "--validators", "4", "--dir", str(root), "--force")
    assert code == 0, err
    assert (root / "validator-1" / "key").read_bytes() != before[root / "validator-1" / "key"]
    code, out, err = _besu_config(capsys, "--validators", "3", "--dir", str(root), "--force")
    assert code == 0, err
    genesis = json.loads((root / "genesis.json").read_text())
    assert len(rlp.decode(bytes.fromhex(genesis["extraData"][2:]))[1]) == 3
    assert "not in this network: validator-4" in out  # its old key is pointed out, not removed


@pytest.mark.anvil
def test_a_node_needs_no_funds_on_a_zero_gas_chain_as_the_genesis_makes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """anvil run as the genesis sets the chain (its chain id, no gas price, no base fee):
    the node founds, anchors and hands out a receipt that verifies, from a member key that
    never held a coin."""
    code, _, err = _besu_config(capsys, "--dir", str(tmp_path / "besu"))
    assert code == 0, err
    genesis = json.loads((tmp_path / "besu" / "genesis.json").read_text())
    chain_id = str(genesis["config"]["chainId"])
    zero_gas = ("--gas-price", "0", "--base-fee", "0", "--disable-min-priority-fee")
    with anvil_chain("--chain-id", chain_id, *zero_gas) as (url, _):
        settings = make_settings(tmp_path / "data", url)
        with TestClient(create_app(settings, run_batcher=False)) as client:
            authorize(client, "admin")
            node = node_of(client)
            w3 = node.chain.client.w3
            assert w3.eth.chain_id == genesis["config"]["chainId"] and w3.eth.gas_price == 0
            submit(client, [person(1)])
            node.batcher.drain()
            receipt = client.get(f"/v1/records/{person(1)['record_id']}/receipt").json()
            assert receipt["chain_id"] == genesis["config"]["chainId"]
            assert verify_receipt(receipt, w3).ok
            assert w3.eth.get_balance(node.chain.client.account.address) == 0
