"""The audit's verifying core without a chain: its walk of an audit path agrees with the
RFC 9162 reference on every tree size, whether it shares proven nodes or not, and refuses a
wrong path; a bundle read back tells a cut or changed file from a signed one."""

from __future__ import annotations

import io
import random

import orjson
from eth_account import Account

from node.audit.bundle import BundleReader, BundleWriter
from node.audit.core import ChainBatch, LineChecker, proves, root_key
from node.audit.objections import Objection, overdue_objections
from node.crypto.canonical import canonical_json
from node.crypto.merkle import leaf_hash, root_from_inclusion_proof
from tests.conftest import commitments, ref_mth, ref_path


def test_proves_agrees_with_the_reference_on_every_tree_size() -> None:
    for size in range(1, 71):
        entries = commitments(size)
        root = ref_mth(entries)
        shared = {root_key(size): root}
        for index in random.Random(size).sample(range(size), size):  # any order
            path = ref_path(index, entries)
            joined = b"".join(path)
            assert root_from_inclusion_proof(index, size, leaf_hash(entries[index]), path) == root
            assert proves(index, size, entries[index], joined, {root_key(size): root})
            assert proves(index, size, entries[index], joined, shared)
            other = b"\x01" * 32
            assert not proves(index, size, other, joined, {root_key(size): root})
            assert not proves(index, size, other, joined, shared)
            if path:
                assert not proves(index, size, entries[index], joined[:-32], {root_key(size): root})
                bent = joined[:-1] + bytes([joined[-1] ^ 1])
                assert not proves(index, size, entries[index], bent, {root_key(size): root})
            assert not proves(size, size, entries[index], joined, shared)


def _line(batch: int, leaf: int, record: dict, salt: bytes, path: list[bytes]) -> dict:
    return {"batch": batch, "leaf": leaf, "kind": "record", "record": record,
            "salt": "0x" + salt.hex(), "status": "active",
            "proof": "0x" + b"".join(path).hex()}  # fmt: skip


def _bundle(n: int = 9) -> tuple[bytes, ChainBatch]:
    records = [{"record_id": f"R{i}", "subject_key": "0x" + "5e" * 32, "amount_cents": i}
               for i in range(n)]  # fmt: skip
    salts = [bytes([i]) * 32 for i in range(n)]
    entries = [__import__("hashlib").sha256(s + canonical_json(r)).digest()
               for s, r in zip(salts, records, strict=True)]  # fmt: skip
    batch = ChainBatch(1, ref_mth(entries), n, b"\x00" * 32, 5)
    out = io.BytesIO()
    header = {"chain_id": 1, "registry": "0x" + "11" * 20, "as_of_block": 5, "created_at": 0}
    writer = BundleWriter(out, Account.create(), header)
    for i in range(n):
        writer.write(_line(1, i, records[i], salts[i], ref_path(i, entries)))
    writer.close()
    return out.getvalue(), batch


def _check(raw: bytes, batch: ChainBatch) -> tuple[BundleReader, LineChecker]:
    reader = BundleReader(io.BytesIO(raw))
    checker = LineChecker(batches={1: batch}, statuses={})
    for n, line in reader.leaf_lines():
        checker.check(n, line)
    checker.finish(as_of_block=5)
    return reader, checker


def test_a_signed_bundle_reads_back_whole() -> None:
    raw, batch = _bundle()
    reader, checker = _check(raw, batch)
    assert reader.problems() == [] and reader.lines == 10
    assert checker.records == 9 and checker.findings.named == []


def test_a_cut_or_changed_bundle_is_told_apart() -> None:
    raw, batch = _bundle()
    lines = raw.splitlines(keepends=True)
    reader, checker = _check(b"".join(lines[:-1]), batch)  # no trailer
    assert reader.problems() == ["the bundle has no signed trailer: it was cut short or "
                                 "never signed"]  # fmt: skip
    reader, checker = _check(b"".join(lines[:4] + lines[5:]), batch)  # a line taken out
    assert reader.problems() == [
        "the trailer counts 10 lines, the bundle has 9",
        "the bundle's bytes do not hash to the trailer's sha256: it was changed after it was "
        "signed",
    ]
    assert [(f.kind, f.leaf) for f in checker.findings.named] == [("missing", 3)]
    reader, _ = _check(raw + lines[2], batch)  # a line after the trailer
    assert "1 line(s) after the trailer" in reader.problems()


def test_two_lines_for_one_leaf_name_the_second_as_extra() -> None:
    raw, batch = _bundle()
    lines = raw.splitlines(keepends=True)
    twin = orjson.loads(lines[3])
    twin["record"]["record_id"] = "R-TWIN"
    _, checker = _check(b"".join(lines[:4]) + orjson.dumps(twin) + b"\n"
                        + b"".join(lines[4:]), batch)  # fmt: skip
    assert [(f.kind, f.leaf, f.record_id) for f in checker.findings.named] == [
        ("extra", 2, "R-TWIN")]  # fmt: skip


def test_statuses_and_erasure_are_held_to_the_chain() -> None:
    raw, batch = _bundle()
    lines = [orjson.loads(x) for x in raw.splitlines()[1:-1]]
    commitment = (
        __import__("hashlib")
        .sha256(bytes.fromhex(lines[2]["salt"][2:]) + canonical_json(lines[2]["record"]))
        .digest()
    )
    erased = {k: v for k, v in lines[2].items() if k not in ("record", "salt")}
    erased |= {"erased": True, "commitment": "0x" + commitment.hex()}
    checker = LineChecker(batches={1: batch}, statuses={})  # every record active on chain
    checker.check(2, orjson.dumps(erased))
    checker.check(3, orjson.dumps({**lines[3], "status": "revoked"}))
    checker.finish(as_of_block=None)
    found = {(f.kind, f.leaf) for f in checker.findings.named}
    assert {("erased_early", 2), ("status", 3)} <= found
    for line, kinds in (({**erased, "status": "expired"}, []),
                        ({**lines[2], "status": "expired"}, [("not_erased", 2)])):  # fmt: skip
        expired = LineChecker(batches={1: batch}, statuses={commitment: 4})  # 4: Expired
        expired.check(2, orjson.dumps(line))
        assert [(f.kind, f.leaf) for f in expired.findings.named] == kinds
        # the same, expired by its leaf's bit in the batch's expiry bitmap (LeavesExpired)
        by_bit = LineChecker(batches={1: batch}, statuses={}, expired={(1, 2)})
        by_bit.check(2, orjson.dumps(line))
        assert [(f.kind, f.leaf) for f in by_bit.findings.named] == kinds
    revoked = LineChecker(batches={1: batch}, statuses={commitment: 3}, expired={(1, 2)})
    revoked.check(2, orjson.dumps({**lines[2], "status": "revoked"}))  # final: the bit is moot
    assert revoked.findings.named == []


def test_an_objection_answered_late_or_left_open_past_its_deadline_is_named() -> None:
    member = "0x" + "ab" * 20
    objections = [
        Objection(1, member, "0x01", deadline=100, answered_at=90),
        Objection(2, member, "0x02", deadline=100, answered_at=130),
        Objection(3, member, "0x03", deadline=100, answered_at=None),
        Objection(4, member, "0x04", deadline=500, answered_at=None),
        Objection(5, "0x" + "cd" * 20, "0x05", deadline=100, answered_at=None),
    ]
    late = overdue_objections(objections, member=member.upper().replace("0X", "0x"), now=200)
    assert [(f.kind, f.record_id) for f in late] == [("overdue_objection", "2"),
                                                     ("overdue_objection", "3")]  # fmt: skip


def test_the_command_says_what_is_wrong_by_its_exit_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from node.cli import main
    from tests.conftest import free_port

    raw, _ = _bundle()
    bundle = tmp_path / "b.jsonl"
    bundle.write_bytes(raw)
    away = f"http://127.0.0.1:{free_port()}"
    assert main(["audit", str(bundle), "--rpc", away]) == 3  # no chain answers
    (tmp_path / "not.jsonl").write_text('{"hello": 1}\n')
    assert main(["audit", str(tmp_path / "not.jsonl"), "--rpc", away]) == 2
    assert main(["audit", str(tmp_path / "none.jsonl"), "--rpc", away]) == 2


def test_a_bad_option_is_named_and_nothing_is_written(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from node.cli import main

    raw, _ = _bundle()
    bundle = tmp_path / "b.jsonl"
    bundle.write_bytes(raw)
    for bad in (["--registry", "0x1234"], ["--blocks-per-query", "0"]):
        assert main(["audit", str(bundle), "--rpc", "http://127.0.0.1:1", *bad]) == 2
        assert bad[0] in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.jsonl"]


def test_the_query_logs_are_compared_both_ways_up_to_the_earlier_end() -> None:
    from node.audit.core import QuerySeen
    from node.audit.querylog import SETTLING_SECONDS, Side, cross_check

    a, b = "0x" + "aa" * 20, "0x" + "bb" * 20

    def seen(query_id: str, side: str, requester: str, holder: str, at: int) -> QuerySeen:
        return QuerySeen(query_id, side, requester, holder, at, "loan_application", 1, 0)

    end = 10_000
    side_a = Side(
        a,
        [
            seen("q1", "requester", a, b, 100),
            seen("q2", "requester", a, b, 200),
            seen("q4", "requester", a, b, end - SETTLING_SECONDS + 1),
        ],
        end,
    )
    side_b = Side(b, [seen("q1", "holder", a, b, 100), seen("q3", "holder", a, b, 300),
                      seen("q5", "requester", b, a, 400)], end + 5000)  # fmt: skip
    compared, found = cross_check(side_a, side_b)
    named = sorted((f.record_id, f.detail.split(" logged by its ")[1].split(" ")[0])
                   for f in found)  # fmt: skip
    assert named == [("q2", "requester"), ("q3", "holder"), ("q5", "requester")]
    assert compared == 5  # q1 on both sides, q2, q3, q5; q4 is too close to a's end
