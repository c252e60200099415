"""The requester believes nothing it cannot check: every record a member sends is checked
against the chain (its commitment, its path to the root, the root and its anchoring member from
RecordRegistry's getBatch, its status), and one failure rejects the member's whole answer,
naming the member and the record."""

from typing import Any

from node.chain.client import ChainError, ContractRevert
from node.chain.setup import Chain
from node.crypto.commitments import to_hex
from node.errors import DomainError
from node.receipts.verify import STATUSES, Verdict, check_offline, status_at_args


class AnswerRejected(DomainError):
    """A member's answer held a record that does not check against the chain."""

    code, status = "answer_rejected", 502

    def __init__(self, member: str, record_id: str, why: str) -> None:
        super().__init__(member, record_id, detail=f"{member}: record {record_id}: {why}")
        self.member, self.record_id, self.why = member, record_id, why

    def context(self) -> dict[str, Any]:
        return {"member": self.member, "record_id": self.record_id}


class BatchBook:
    """Batches asked of the chain once each: an anchored batch never changes its root."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self._seen: dict[int, tuple[str, bytes, int]] = {}

    def get(self, batch_id: int) -> tuple[str, bytes, int] | None:
        if batch_id not in self._seen:
            try:
                member, root, size, *_ = self.chain.client.call(
                    self.chain.registry.functions.getBatch(batch_id)
                )
            except ContractRevert:
                return None
            self._seen[batch_id] = (member, root, size)
        return self._seen[batch_id]


def verify_answer(
    chain: Chain, batches: BatchBook, *, holder: str, subject_key: str, receipts: Any,
    statements: dict[str, str] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """The records of a member's answer, each checked; AnswerRejected at the first that fails.
    Each record comes back with its status on chain, and the borrower's statement it carries
    (`statement_hash`, from this node's own index: `statements` by commitment) if any."""
    if not isinstance(receipts, list):
        raise AnswerRejected(holder, "-", "records is not a list")
    checked = []
    for receipt in receipts:
        record = receipt.get("record") if isinstance(receipt, dict) else None
        record_id = str(record.get("record_id", "?")) if isinstance(record, dict) else "?"

        def fail(why: str, record_id: str = record_id) -> AnswerRejected:
            return AnswerRejected(holder, record_id, why)

        verdict = Verdict()
        root = check_offline(receipt, verdict) if isinstance(receipt, dict) else None
        if root is None:
            raise fail("; ".join(d for _, ok, d in verdict.checks if not ok) or "not a receipt")
        assert isinstance(record, dict)
        if record.get("subject_key", "").lower() != subject_key.lower():
            raise fail("the record is about another subject")
        why = anchor_mismatch(chain, batches, holder=holder, receipt=receipt, root=root)
        if why is not None:
            raise fail(why)
        try:
            status = chain.client.call(chain.registry.functions.statusAt(*status_at_args(receipt)))
        except (ChainError, OSError) as err:
            raise fail(f"the chain could not be asked: {type(err).__name__}") from None
        checked.append({**record, "chain_status": STATUSES[status]})
        statement = (statements or {}).get(str(receipt["commitment"]).lower())
        if statement is not None:
            checked[-1]["statement_hash"] = statement
    return checked


def anchor_mismatch(
    chain: Chain, batches: BatchBook, *, holder: str, receipt: dict[str, Any], root: bytes
) -> str | None:
    """Why a receipt whose proof walks to `root` is not one of `holder`'s anchored leaves on
    this chain (another chain or registry, no such batch, another root or size, another
    anchoring member); None if it is."""
    registry = chain.addresses["RecordRegistry"]
    if receipt["chain_id"] != chain.chain_id or receipt["registry"].lower() != registry.lower():
        return "the receipt names another chain or registry"
    try:
        batch = batches.get(receipt["batch_id"])
    except (ChainError, OSError) as err:
        return f"the chain could not be asked: {type(err).__name__}"
    if batch is None:
        return f"batch {receipt['batch_id']} is not on the chain"
    member, on_chain_root, size = batch
    if on_chain_root != root or size != receipt["tree_size"]:
        return f"batch {receipt['batch_id']} on chain has root {to_hex(on_chain_root)}"
    if member.lower() != holder.lower():
        return f"batch {receipt['batch_id']} was anchored by {member}, not the holder"
    return None
