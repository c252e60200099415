"""The borrower page's own JavaScript, run under Node: its RFC 9162 proof check agrees with
node/crypto/merkle.py on the Certificate Transparency vectors and on every path of trees up
to 40 leaves, and refuses what the Python verifier refuses; its receipt check and canonical
JSON agree with the node's; its red flag follows the consent's window and revocation."""

import json
import subprocess
from typing import Any

from node.crypto.canonical import canonical_json
from node.crypto.commitments import commitment, to_hex
from node.crypto.merkle import (
    inclusion_proof,
    leaf_hash,
    root_from_inclusion_proof,
    root_from_levels,
    tree_levels,
    verify_inclusion,
)
from tests.conftest import REPO, _sha256
from tests.test_merkle import CT_ENTRIES, CT_INCLUSION, CT_ROOTS

SCRIPT = REPO / "tests" / "js" / "borrower_page.mjs"
ENTRIES = [_sha256(i.to_bytes(4, "big")) for i in range(40)]


def run_js(request: dict[str, Any]) -> dict[str, Any]:
    """The page's modules' answers to one request (see tests/js/borrower_page.mjs)."""
    done = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def hx(b: bytes) -> str:
    return "0x" + b.hex()


def flip(b: bytes) -> bytes:
    return bytes([b[0] ^ 1]) + b[1:]


def test_js_roots_and_paths_match_the_certificate_transparency_vectors() -> None:
    proofs = [
        {
            "index": i,
            "size": n,
            "leaf": hx(leaf_hash(CT_ENTRIES[i])),
            "proof": ["0x" + p for p in path],
        }
        for i, n, path in CT_INCLUSION
    ]
    answer = run_js(
        {"roots": [[hx(e) for e in CT_ENTRIES[:n]] for n in range(1, 9)], "proofs": proofs}
    )
    assert answer["roots"] == ["0x" + r for r in CT_ROOTS]
    assert [p["root"] for p in answer["proofs"]] == [
        "0x" + CT_ROOTS[n - 1] for _, n, _ in CT_INCLUSION
    ]


def test_js_verifier_agrees_with_the_python_verifier_on_every_path_and_every_tampering() -> None:
    cases: list[dict[str, Any]] = []
    for size in range(1, len(ENTRIES) + 1):
        levels = tree_levels(ENTRIES[:size])
        root = root_from_levels(levels)
        for index in range(size):
            entry, proof = ENTRIES[index], inclusion_proof(levels, index)
            variants = [
                (entry, index, size, proof, root),
                (flip(entry), index, size, proof, root),
                (entry, index, size, proof, flip(root)),
                (entry, index + 1, size, proof, root),
                (entry, index, size + 1, proof, root),
                (entry, index, size, proof + [root], root),
            ]
            variants += [
                (entry, index, size, proof[:i] + [flip(proof[i])] + proof[i + 1 :], root)
                for i in range(len(proof))
            ]
            if proof:
                variants.append((entry, index, size, proof[:-1], root))
            cases += [
                {
                    "entry": hx(e),
                    "index": i,
                    "size": n,
                    "proof": [hx(p) for p in pr],
                    "root": hx(r),
                    "python": verify_inclusion(e, i, n, pr, r),
                    "honest": k == 0,
                }
                for k, (e, i, n, pr, r) in enumerate(variants)
            ]
    answer = run_js({"inclusions": cases})
    disagreements = [
        c for c, js in zip(cases, answer["inclusions"], strict=True) if js != c["python"]
    ]
    assert disagreements == []
    honest = [c for c in cases if c["honest"]]
    assert len(honest) == sum(range(1, len(ENTRIES) + 1)) and all(c["python"] for c in honest)
    assert sum(not c["python"] for c in cases) > 5000  # and many tampered ones, all refused


def test_js_refuses_malformed_proofs_as_python_does() -> None:
    leaf = leaf_hash(ENTRIES[0])
    proof = inclusion_proof(tree_levels(ENTRIES[:4]), 0)
    bad = [
        (4, 4, leaf, proof),
        (-1, 4, leaf, proof),
        (0, 4, leaf[:31], proof),
        (0, 4, leaf, [proof[0][:31], proof[1]]),
        (0, 4, leaf, proof[:1]),
    ]
    answer = run_js(
        {
            "proofs": [
                {"index": i, "size": n, "leaf": hx(lf), "proof": [hx(p) for p in pr]}
                for i, n, lf, pr in bad
            ]
        }
    )
    for (i, n, lf, pr), js in zip(bad, answer["proofs"], strict=True):
        try:
            root_from_inclusion_proof(i, n, lf, pr)
            raise AssertionError("python accepted it")
        except ValueError as err:
            assert "error" in js, (str(err), js)


VALUES: list[Any] = [
    {
        "kind": "query",
        "query_id": "0x" + "ab" * 32,
        "side": "holder",
        "at": 1795996811,
        "purpose": "loan_application",
        "requester": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    },
    {
        "名字": "张三",
        "b": [1, 2, {"z": None, "a": True}],
        "a": 'line\nbreak "q" \\ \u2028 /',
        "ctl": "\u0001\u001f\u007f",
        "emoji": "😀",
        "\U0001f600": 1,
        "\uffff": 2,
        "": 0,
    },
    [9007199254740991, -5, 0, "é"],
]


def test_js_canonical_json_is_the_nodes() -> None:
    assert run_js({"canonical": VALUES})["canonical"] == [
        canonical_json(v).decode() for v in VALUES
    ]


def _receipt() -> dict[str, Any]:
    entry = VALUES[0]
    salt = _sha256(b"salt")
    mine = commitment(salt, canonical_json(entry))
    leaves = [*ENTRIES[:3], mine, *ENTRIES[3:6]]
    levels = tree_levels(leaves)
    return {
        "version": 1,
        "kind": "query",
        "entry": entry,
        "salt": hx(salt),
        "commitment": to_hex(mine),
        "leaf_index": 3,
        "tree_size": len(leaves),
        "proof": [hx(p) for p in inclusion_proof(levels, 3)],
        "root": hx(root_from_levels(levels)),
    }


def test_js_receipt_check_passes_a_true_receipt_and_names_what_a_tampered_one_breaks() -> None:
    good = _receipt()
    other_entry = {**good, "entry": {**good["entry"], "side": "requester"}}
    other_proof = {
        **good,
        "proof": [
            good["proof"][0],
            to_hex(flip(bytes.fromhex(good["proof"][1][2:]))),
            *good["proof"][2:],
        ],
    }
    other_index = {**good, "leaf_index": 2}
    answer = run_js({"receipts": [good, other_entry, other_proof, other_index]})["receipts"]
    assert answer[0] == {"ok": True, "root": good["root"]}
    assert [(a["ok"], a["check"]) for a in answer[1:]] == [
        (False, "commitment"),
        (False, "path"),
        (False, "path"),
    ]


def test_a_query_outside_its_window_or_after_revocation_is_flagged() -> None:
    consent = {"validFrom": 1000, "validUntil": 2000, "revokedAt": 0}
    revoked = {**consent, "revokedAt": 1500}
    cases = [
        ({"at": 1000}, consent),
        ({"at": 1999}, consent),
        ({"at": 999}, consent),
        ({"at": 2000}, consent),
        ({"at": 1499}, revoked),
        ({"at": 1500}, revoked),
        ({"at": 1200}, None),
    ]
    flags = run_js({"flags": [{"query": q, "consent": c} for q, c in cases]})["flags"]
    assert flags == [
        None,
        None,
        "before_window",
        "after_window",
        None,
        "after_revocation",
        "no_consent",
    ]


def test_the_trail_reads_newest_first() -> None:
    trail = {
        "bindings": [{"time": 100, "block_number": 5, "log_index": 0, "unbound": None}],
        "consents": [
            {"registered_at": 200, "registered_block": 6, "revoked_at": 400, "revoked_block": 9}
        ],
        "queries": [{"at": 300, "receipt": {"block_number": 8}}],
        "objections": [{"filed_at": 350, "block_number": 8, "answer": {"at": 500}}],
    }
    assert run_js({"timeline": trail})["timeline"] == [
        ["objection_answer", 500],
        ["revocation", 400],
        ["objection", 350],
        ["query", 300],
        ["consent", 200],
        ["binding", 100],
    ]
