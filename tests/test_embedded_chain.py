"""Tests for the persistent embedded chain (node.chain.embedded).

The contract used here is hand-written EVM bytecode (no solc):
* call with 32 bytes of calldata ``v``: ``sstore(0, v)``, ``LOG1(v, keccak("Set(uint256)"))``
* call with empty calldata: return ``sload(0)``
"""

from __future__ import annotations

import os
import pathlib
import random
import select
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import Web3

from node.chain.embedded import (
    FUNDED_BALANCE,
    ChainDirLockedError,
    open_embedded_chain,
)

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
KEY = "0x" + "11" * 32
OTHER_KEY = "0x" + "22" * 32
SET_TOPIC = keccak(text="Set(uint256)")
GAS = 200_000
FEE = 10 * 10**9


def _runtime_code() -> bytes:
    code = (
        bytes.fromhex("36 15 60 36 57")  # CALLDATASIZE ISZERO PUSH1 get JUMPI
        + bytes.fromhex("60 00 35 80 60 00 55")  # v=CALLDATALOAD(0) DUP1 SSTORE(0, v)
        + bytes.fromhex("60 00 52")  # MSTORE(0, v)
        + b"\x7f"
        + SET_TOPIC  # PUSH32 topic
        + bytes.fromhex("60 20 60 00 a1 00")  # LOG1(0, 32, topic) STOP
        + bytes.fromhex("5b 60 00 54 60 00 52 60 20 60 00 f3")  # get: RETURN sload(0)
    )
    assert code[0x36] == 0x5B  # JUMPDEST where the JUMPI points
    return code


RUNTIME = _runtime_code()
# init code: CODECOPY(0, 11, len(runtime)); RETURN(0, len(runtime)); then the runtime
INIT_CODE = bytes([0x60, len(RUNTIME), 0x80, 0x60, 11, 0x60, 0, 0x39, 0x60, 0, 0xF3]) + RUNTIME


def _send(w3: Web3, acct, chain_id: int, *, nonce: int, to=None, data=b"", legacy=False):
    tx = {"nonce": nonce, "gas": GAS, "value": 0, "data": data, "chainId": chain_id}
    if to is not None:
        tx["to"] = to
    if legacy:
        tx["gasPrice"] = FEE
    else:
        tx["maxFeePerGas"] = FEE
        tx["maxPriorityFeePerGas"] = 10**9
    signed = acct.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)
    assert receipt["status"] == 1
    return receipt


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _stored(w3: Web3, contract: str, block="latest") -> int:
    return int.from_bytes(w3.eth.call({"to": contract, "data": b""}, block), "big")


def _deploy(chain, acct) -> str:
    receipt = _send(chain.w3, acct, chain.chain_id, nonce=0, data=INIT_CODE)
    return receipt["contractAddress"]


def test_chain_state_survives_reopen(tmp_path):
    acct = Account.from_key(KEY)
    data_dir = tmp_path / "data" / "chain"
    chain = open_embedded_chain(data_dir, funded=[acct.address])
    w3 = chain.w3
    assert chain.created
    assert w3.eth.chain_id == 1337 == chain.chain_id
    assert w3.eth.block_number == 0
    assert w3.eth.get_balance(acct.address) == FUNDED_BALANCE

    contract = _deploy(chain, acct)
    assert w3.eth.get_code(contract) == RUNTIME
    set42 = _send(w3, acct, 1337, nonce=1, to=contract, data=_word(42), legacy=True)
    set43 = _send(w3, acct, 1337, nonce=2, to=contract, data=_word(43))
    assert (set42["blockNumber"], set43["blockNumber"]) == (2, 3)
    head = w3.eth.get_block("latest")
    genesis_hash = w3.eth.get_block(0)["hash"]
    balance = w3.eth.get_balance(acct.address)
    assert balance < FUNDED_BALANCE
    chain.close()
    chain.close()  # idempotent

    chain = open_embedded_chain(data_dir, funded=[acct.address])
    w3 = chain.w3
    try:
        assert not chain.created
        assert w3.eth.block_number == 3
        assert w3.eth.get_block(0)["hash"] == genesis_hash
        assert w3.eth.get_block(3)["hash"] == head["hash"]
        assert w3.eth.get_balance(acct.address) == balance
        assert w3.eth.get_transaction_count(acct.address) == 3
        assert w3.eth.get_code(contract) == RUNTIME
        # storage at head and at an old block (eth_call without "from")
        assert _stored(w3, contract) == 43
        assert _stored(w3, contract, 2) == 42
        assert w3.eth.get_storage_at(contract, 0) == _word(43)

        receipt = w3.eth.get_transaction_receipt(set42["transactionHash"])
        assert receipt["blockNumber"] == 2
        assert receipt["blockHash"] == set42["blockHash"]
        assert len(receipt["logs"]) == 1
        assert receipt["logs"][0]["topics"] == [SET_TOPIC]
        assert receipt["logs"][0]["data"] == _word(42)
        tx = w3.eth.get_transaction(set42["transactionHash"])
        assert (tx["nonce"], tx["blockNumber"], tx["to"]) == (1, 2, contract)
        assert (
            w3.eth.get_block(2, full_transactions=True)["transactions"][0]["hash"]
            == (set42["transactionHash"])
        )
        logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": contract})
        assert [(log["blockNumber"], log["data"]) for log in logs] == [
            (2, _word(42)),
            (3, _word(43)),
        ]

        # a new transaction extends the persisted head
        time.sleep(1.1)  # so a naive "now" timestamp would differ from the old ones
        set44 = _send(w3, acct, 1337, nonce=3, to=contract, data=_word(44))
        assert set44["blockNumber"] == 4
        block4 = w3.eth.get_block(4)
        assert block4["parentHash"] == head["hash"]
        assert block4["timestamp"] > head["timestamp"]
        assert _stored(w3, contract) == 44
    finally:
        chain.close()

    with open_embedded_chain(data_dir, funded=[acct.address]) as chain:
        assert chain.w3.eth.block_number == 4
        assert _stored(chain.w3, contract) == 44


def test_reopen_keeps_existing_genesis_when_funded_differs(tmp_path):
    first, second = Account.from_key(KEY), Account.from_key(OTHER_KEY)
    with open_embedded_chain(tmp_path, funded=[first.address]) as chain:
        genesis_hash = chain.w3.eth.get_block(0)["hash"]
    with open_embedded_chain(tmp_path, funded=[second.address]) as chain:
        assert not chain.created
        assert chain.w3.eth.get_block(0)["hash"] == genesis_hash
        assert chain.w3.eth.get_balance(first.address) == FUNDED_BALANCE
        assert chain.w3.eth.get_balance(second.address) == 0


def test_reopen_with_another_chain_id_is_refused(tmp_path):
    with open_embedded_chain(tmp_path, funded=[], chain_id=4242) as chain:
        assert chain.w3.eth.chain_id == 4242
    with pytest.raises(ValueError, match="chain id"):
        open_embedded_chain(tmp_path, funded=[])
    # the failed open released the lock
    with open_embedded_chain(tmp_path, funded=[], chain_id=4242) as chain:
        assert chain.w3.eth.block_number == 0


def test_data_dir_cannot_be_opened_twice(tmp_path):
    with open_embedded_chain(tmp_path, funded=[]):
        with pytest.raises(ChainDirLockedError):
            open_embedded_chain(tmp_path, funded=[])
    open_embedded_chain(tmp_path, funded=[]).close()


def test_transactions_signed_for_another_chain_are_rejected(tmp_path):
    acct = Account.from_key(KEY)
    with open_embedded_chain(tmp_path, funded=[acct.address]) as chain:
        w3 = chain.w3
        for chain_id in (1, 31337, None):
            tx = {"nonce": 0, "gas": 21_000, "gasPrice": FEE, "to": acct.address, "value": 1}
            if chain_id is not None:
                tx["chainId"] = chain_id
            with pytest.raises(Exception, match="chain id"):
                w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
        assert w3.eth.block_number == 0
        assert w3.eth.get_transaction_count(acct.address) == 0
        # the right chain id works, for legacy and EIP-1559 transactions
        _send(w3, acct, chain.chain_id, nonce=0, to=acct.address, legacy=True)
        _send(w3, acct, chain.chain_id, nonce=1, to=acct.address)
        assert w3.eth.block_number == 2


def test_calls_and_gas_estimates_need_no_sender_balance(tmp_path):
    acct, poor = Account.from_key(KEY), Account.from_key(OTHER_KEY)
    with open_embedded_chain(tmp_path, funded=[acct.address]) as chain:
        w3 = chain.w3
        contract = _deploy(chain, acct)
        _send(w3, acct, chain.chain_id, nonce=1, to=contract, data=_word(7))
        assert w3.eth.accounts == []
        for sender in ({}, {"from": poor.address}, {"from": acct.address}):
            assert _stored(w3, contract) == 7
            call = {**sender, "to": contract, "data": b""}
            assert int.from_bytes(w3.eth.call(call), "big") == 7
            assert w3.eth.estimate_gas({**sender, "to": contract, "data": _word(8)}) > 21_000
        priced = {"from": acct.address, "to": contract, "data": b"", "maxFeePerGas": FEE}
        assert int.from_bytes(w3.eth.call(priced), "big") == 7


def test_chain_can_be_used_from_another_thread(tmp_path):
    acct = Account.from_key(KEY)
    with open_embedded_chain(tmp_path, funded=[acct.address]) as chain:
        contract = _deploy(chain, acct)
        with ThreadPoolExecutor(max_workers=1) as pool:
            receipt = pool.submit(
                _send, chain.w3, acct, chain.chain_id, nonce=1, to=contract, data=_word(9)
            ).result()
        assert receipt["blockNumber"] == 2
        assert _stored(chain.w3, contract) == 9


# --------------------------------------------------------------------------------------
# SIGKILL
# --------------------------------------------------------------------------------------

WORKER = r"""
import os, pathlib, signal, sys
from eth_account import Account
from node.chain import embedded

data_dir, key, contract, mode = sys.argv[1:5]
acct = Account.from_key(key)
chain = embedded.open_embedded_chain(pathlib.Path(data_dir), funded=[acct.address])
w3 = chain.w3

if mode == "crash-in-flush":
    # Let `keep` blocks commit, then die inside the next block's flush, after all of
    # its rows (including the new head pointer) went to SQLite but before COMMIT.
    class KillBeforeCommit:
        def __init__(self, conn, keep):
            self.conn, self.keep = conn, keep

        def execute(self, sql, *args):
            if sql == "COMMIT":
                if self.keep == 0:
                    os.kill(os.getpid(), signal.SIGKILL)
                self.keep -= 1
            return self.conn.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self.conn, name)

    chain._db._conn = KillBeforeCommit(chain._db._conn, int(sys.argv[5]))

nonce = w3.eth.get_transaction_count(acct.address)
print("ready", w3.eth.block_number, flush=True)
while True:
    tx = {"nonce": nonce, "to": contract, "data": nonce.to_bytes(32, "big"), "value": 0,
          "gas": 200000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9,
          "chainId": chain.chain_id}
    tx_hash = w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    print("mined", receipt["blockNumber"], flush=True)
    nonce += 1
"""


class _LineReader:
    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.buffer = b""

    def readline(self, timeout: float = 30.0) -> str | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("worker did not print in time")
            ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    return None  # EOF
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()


def _start_worker(data_dir: pathlib.Path, contract: str, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(data_dir), KEY, contract, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO_ROOT,
        env=env,
        bufsize=0,
    )


def _check_consistent_and_extend(data_dir: pathlib.Path, contract: str) -> int:
    """Re-open after a crash, check every block, mine one more; return the new head."""
    acct = Account.from_key(KEY)
    with open_embedded_chain(data_dir, funded=[acct.address]) as chain:
        w3 = chain.w3
        head = w3.eth.block_number
        latest = w3.eth.get_block("latest")
        assert latest["number"] == head
        parent = w3.eth.get_block(0)
        for number in range(1, head + 1):
            block = w3.eth.get_block(number, full_transactions=True)
            assert block["number"] == number
            assert block["parentHash"] == parent["hash"]
            assert block["timestamp"] > parent["timestamp"]
            assert len(block["transactions"]) == 1
            tx = block["transactions"][0]
            assert tx["nonce"] == number - 1
            assert w3.eth.get_transaction(tx["hash"])["blockNumber"] == number
            receipt = w3.eth.get_transaction_receipt(tx["hash"])
            assert receipt["status"] == 1
            assert receipt["blockNumber"] == number
            assert receipt["blockHash"] == block["hash"]
            if number > 1:  # setter calls (block 1 is the deployment)
                assert receipt["logs"][0]["data"] == _word(number - 1)
                assert _stored(w3, contract, number) == number - 1
            parent = block
        assert latest["hash"] == parent["hash"]
        logs = w3.eth.get_logs({"fromBlock": 1, "toBlock": head, "address": contract})
        assert [log["blockNumber"] for log in logs] == list(range(2, head + 1))
        assert w3.eth.get_code(contract) == RUNTIME

        nonce = w3.eth.get_transaction_count(acct.address)
        assert nonce == head
        receipt = _send(w3, acct, chain.chain_id, nonce=nonce, to=contract, data=_word(nonce))
        assert receipt["blockNumber"] == head + 1
        assert w3.eth.get_block(head + 1)["parentHash"] == latest["hash"]
        assert _stored(w3, contract) == nonce
        return head + 1


def test_chain_survives_sigkill_during_mining(tmp_path):
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    data_dir = tmp_path / "chain"
    acct = Account.from_key(KEY)
    with open_embedded_chain(data_dir, funded=[acct.address]) as chain:
        contract = to_checksum_address(_deploy(chain, acct))
    head = 1

    rounds = [("loop", None)] * 3 + [("crash-in-flush", str(rng.randint(0, 3)))]
    for mode, keep in rounds:
        extra = (mode,) if keep is None else (mode, keep)
        proc = _start_worker(data_dir, contract, *extra)
        reader = _LineReader(proc)
        try:
            ready = reader.readline()
            assert ready == f"ready {head}", (ready, proc.stderr.read() if ready is None else "")
            last_reported = head
            if mode == "loop":
                for _ in range(rng.randint(1, 8)):
                    line = reader.readline()
                    assert line is not None and line.startswith("mined "), line
                    last_reported = int(line.split()[1])
                time.sleep(rng.uniform(0, 0.03))  # land the kill anywhere in the loop
                proc.send_signal(signal.SIGKILL)
            else:  # the worker kills itself while committing block head + keep + 1
                for _ in range(int(keep) + 3):
                    line = reader.readline()
                    if line is None:
                        break
                    last_reported = int(line.split()[1])
                else:
                    pytest.fail(f"worker did not die inside flush (seed={seed})")
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL, f"seed={seed} mode={mode}"

        new_head = _check_consistent_and_extend(data_dir, contract)
        durable_head = new_head - 1
        # every block the worker saw mined is durable ...
        assert durable_head >= last_reported, f"seed={seed} mode={mode}"
        if mode == "crash-in-flush":
            # ... and the block whose commit was interrupted is gone entirely
            assert durable_head == head + int(keep), f"seed={seed} keep={keep}"
        head = new_head
