"""What the bindings and consents API takes and answers. Formats are refused here, naming the
field; what the ConsentRegistry would refuse is refused by the service, each reason its own
code."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from node.members.schemas import ZERO_ADDRESS
from node.records.schemas import IdNumber

ADDRESS = r"^0x[0-9a-fA-F]{40}$"
BYTES32 = r"^0x[0-9a-fA-F]{64}$"
SIGNATURE = r"^0x[0-9a-fA-F]{130}$"
# times (uint64 on chain) as JSON numbers JavaScript holds exactly: 2**53 s is 285 million years
MAX_TIME = 2**53 - 1

Address = Annotated[str, StringConstraints(pattern=ADDRESS)]
Bytes32 = Annotated[str, StringConstraints(pattern=BYTES32)]
Signature = Annotated[
    str, StringConstraints(pattern=SIGNATURE), Field(description="65 bytes r ‖ s ‖ v, 0x-hex")
]
Uint64 = Annotated[int, Field(ge=0, le=MAX_TIME)]


# a uint256 as the node hands it out: a JSON number below 2**53 (exact in JavaScript), else
# a decimal string (77 digits stay below 2**256)
Uint256 = (
    Annotated[int, Field(ge=0, le=2**53 - 1)]
    | Annotated[str, StringConstraints(pattern=r"^[0-9]{1,77}$")]
)


class SubjectIn(BaseModel):
    """The borrower whose identity this member verified; only its pseudonym leaves the node."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["person", "enterprise"]
    id_number: IdNumber = Field(
        description="18-character resident ID (person) or unified social credit code "
        "(enterprise); its check character is verified"
    )


class BindingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: SubjectIn
    address: Address = Field(
        description="the borrower's address (their wallet's account; not the zero address)",
        json_schema_extra={"not": {"const": ZERO_ADDRESS}},
    )

    @field_validator("address")
    @classmethod
    def _not_zero(cls, address: str) -> str:
        if address == ZERO_ADDRESS:
            raise ValueError("the zero address cannot be bound")
        return address


class UnbindIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: Address = Field(description="the bound address to remove (a lost key)")


class ConsentMessage(BaseModel):
    """The typed message of a consent, exactly as the borrower's wallet signed it."""

    model_config = ConfigDict(extra="forbid")

    subjectKey: Bytes32
    grantee: Address = Field(description="the member the consent lets query")
    purpose: int = Field(ge=0, le=255, description="the purpose's number (see typed-data)")
    validFrom: Uint64 = Field(description="unix seconds, inclusive")
    validUntil: Uint64 = Field(description="unix seconds, exclusive")
    nonce: Uint256 = Field(
        description="any number the borrower chooses: a JSON number below 2**53, or a "
        "decimal string"
    )


class ConsentIn(BaseModel):
    """A consent to relay: the message, the borrower's signature, and the borrower's address."""

    model_config = ConfigDict(extra="forbid")

    message: ConsentMessage
    signature: Signature
    borrower: Address = Field(description="the address that signed (bound to the subject)")


class RevocationIn(BaseModel):
    """A revocation to relay: the borrower's signature of Revocation(consentId)."""

    model_config = ConfigDict(extra="forbid")

    signature: Signature
    borrower: Address = Field(description="the address that signed (bound to the subject)")


class Relayed(BaseModel):
    """Where the relayed transaction landed."""

    consent_id: str
    tx_hash: str
    block_number: int


class BindingOut(BaseModel):
    subject_key: str
    address: str
    member: str | None = None
    tx_hash: str
    block_number: int
