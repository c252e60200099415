"""What the borrower's page needs to know about the consortium, all of it public on chain."""

from typing import Any

from node.chain.index import EventIndex
from node.chain.setup import Chain
from node.consents.purposes import LABELS, PURPOSES
from node.members.service import list_members


def directory(*, index: EventIndex, chain: Chain, login_max_age: float) -> dict[str, Any]:
    """This node's member address, the chain and contracts a page checks against, the
    members (name, address, status; as the index has read them) and the purposes a borrower
    may consent to, numbered as on chain."""
    snap = list_members(index=index)
    return {
        "node": chain.client.account.address,
        "chain_id": chain.chain_id,
        "contracts": {
            name: chain.addresses[name]
            for name in ("RecordRegistry", "ConsentRegistry", "Disputes")
            if name in chain.addresses
        },
        "members": [
            {"address": m["address"], "name": m["name"], "status": m["status"]} for m in snap.value
        ],
        "purposes": [{"number": i, "name": p, "label": LABELS[p]} for i, p in enumerate(PURPOSES)],
        "login_max_age": login_max_age,
        "as_of_block": snap.as_of_block,
    }
