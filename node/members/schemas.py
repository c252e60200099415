"""What the members and governance API takes. What the Consortium contract would refuse
for its value alone is refused here first, naming the field, and said in the schema."""

from typing import Literal

from coincurve import PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.config import JsonDict

Action = Literal[
    "admit", "suspend", "reinstate", "remove",
    "grant_auditor", "grant_regulator", "revoke_auditor", "revoke_regulator",
]  # fmt: skip
ZERO_ADDRESS = "0x" + "0" * 40

# An admission names its candidate: the contract refuses an empty name or key.
_ADMIT_NEEDS: JsonDict = {
    "if": {"properties": {"action": {"const": "admit"}}, "required": ["action"]},
    "then": {
        "properties": {"name": {"minLength": 1}, "public_key": {"minLength": 1}},
        "required": ["name", "public_key"],
    },
}


class ProposalIn(BaseModel):
    """A change to the consortium, carried out once enough founding admins vote for it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_ADMIT_NEEDS)

    action: Action
    subject: str = Field(
        pattern=r"^0x[0-9a-fA-F]{40}$", description="the member's address (not the zero address)",
        json_schema_extra={"not": {"const": ZERO_ADDRESS}},
    )  # fmt: skip
    name: str = Field(
        "", max_length=64, validate_default=True,
        description="admit only, and needed: the member's name",
    )  # fmt: skip  # 64 characters are at most the contract's 256 bytes
    node_url: str = Field(
        "", max_length=256, pattern=r"^[!-~]*$", description="admit only: its node's URL"
    )
    public_key: str = Field(
        "", pattern=r"^(0x)?([0-9a-fA-F]{66}|[0-9a-fA-F]{130})?$", validate_default=True,
        description="admit only, and needed: its secp256k1 public key, hex (33 or 65 bytes)",
    )  # fmt: skip

    @field_validator("subject")
    @classmethod
    def _not_zero(cls, subject: str) -> str:
        if subject == ZERO_ADDRESS:
            raise ValueError("the zero address cannot be a member")
        return subject

    @field_validator("name", "public_key")
    @classmethod
    def _admit_needs(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("action") == "admit" and not value:
            raise ValueError(f"an admission needs the candidate's {info.field_name}")
        return value

    @field_validator("public_key")
    @classmethod
    def _on_curve(cls, key: str) -> str:
        if key:
            try:
                PublicKey(bytes.fromhex(key.removeprefix("0x")))
            except ValueError:
                raise ValueError("not a point on secp256k1") from None
        return key
