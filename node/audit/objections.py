"""Objections answered inside their deadlines: the check that names each objection against
the audited member answered late (a regulator's ruling comes only after the deadline) or
still open past it. The objections are read from the Disputes contract's events by
node/audit/chainview.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

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


class ObjectionsAt(NamedTuple):
    """The objections against a member, and the chain time they are judged at (the time of
    the block they were read at)."""

    objections: list[Objection]
    at: int


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
