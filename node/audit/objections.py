"""Objections answered inside their deadlines: the check, kept apart until the consortium's
disputes contract is part of the chain the audit reads.

It takes the objections against the audited member as plain values, decoded from the
disputes contract's events by whoever reads them, and names each one answered late or not
at all once its deadline has passed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from node.audit.core import Finding


@dataclass(frozen=True)
class Objection:
    """One objection as the chain records it: against which record commitment and member,
    its deadline, and when it was answered (None: not yet)."""

    objection_id: int
    member: str
    commitment: str
    deadline: int
    answered_at: int | None


def overdue_objections(objections: Iterable[Objection], *, member: str, now: int) -> list[Finding]:
    """The member's objections answered after their deadline, or still open past it."""
    found = []
    for o in objections:
        if o.member.lower() != member.lower():
            continue
        if o.answered_at is not None and o.answered_at > o.deadline:
            why = f"answered at {o.answered_at}, after its deadline {o.deadline}"
        elif o.answered_at is None and now > o.deadline:
            why = f"still unanswered; its deadline {o.deadline} has passed"
        else:
            continue
        found.append(Finding("overdue_objection", f"objection {o.objection_id} on "
                             f"{o.commitment}: {why}", record_id=str(o.objection_id)))  # fmt: skip
    return found
