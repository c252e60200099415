"""The event index's tables: every event of every project contract, and the blocks it has
read up to. Owned by node/chain/index.py; domains read them through it."""

from sqlmodel import Field, SQLModel


class ChainEvent(SQLModel, table=True):
    """One decoded contract event. Arguments are JSON; indexed ones are also kept as raw
    topics, so a domain can find "every Voted event of proposal 7" by an index lookup."""

    __tablename__ = "chain_event"

    block_number: int = Field(primary_key=True)
    log_index: int = Field(primary_key=True)
    block_hash: str
    block_time: int  # the block's timestamp, seconds since the epoch
    tx_hash: str
    contract: str = Field(index=True)  # its name in the chain's address book
    address: str
    event: str
    topic1: str | None = Field(default=None, index=True)
    topic2: str | None = None
    topic3: str | None = None
    args: str  # JSON: bytes as 0x-hex, addresses checksummed, integers as integers


class IndexedBlock(SQLModel, table=True):
    """Hashes of recent indexed blocks. The highest row is where the index stands ("indexed
    up to block N with hash H"); the others let it find where a reorganised chain forked."""

    __tablename__ = "chain_block"

    number: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    hash: str
