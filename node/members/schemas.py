"""What the members and governance API takes."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Action = Literal[
    "admit", "suspend", "reinstate", "remove",
    "grant_auditor", "grant_regulator", "revoke_auditor", "revoke_regulator",
]  # fmt: skip


class ProposalIn(BaseModel):
    """A change to the consortium, carried out once enough founding admins vote for it."""

    model_config = ConfigDict(extra="forbid")

    action: Action
    subject: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="the member's address")
    name: str = Field("", max_length=256, description="admit only: the member's name")
    node_url: str = Field("", max_length=256, description="admit only: its node's URL")
    public_key: str = Field(
        "", pattern=r"^(0x)?([0-9a-fA-F]{66}|[0-9a-fA-F]{130})?$",
        description="admit only: its secp256k1 public key, hex (33 or 65 bytes)",
    )  # fmt: skip
