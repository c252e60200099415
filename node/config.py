"""The node's settings: one class, read from the environment (prefix CREDITCHAIN_) and the CLI;
and the checks every command that takes --data makes on that directory."""

import fcntl
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# exit codes of the commands that ask a node or a chain (verify, governance); 0 is success
EXIT_FAILED, EXIT_BAD_INPUT, EXIT_UNREACHABLE = 1, 2, 3
DB_FILE, KEYS_DIR, CHAIN_FILE, LOCK_FILE = "node.db", "keys", "chain.json", "node.lock"


class Settings(BaseSettings):
    """Everything a node operator can set. CLI flags override the environment."""

    model_config = SettingsConfigDict(env_prefix="CREDITCHAIN_", extra="ignore")

    data: Path = Field(Path("data"), description="data directory (store, keys, embedded chain)")
    rpc: str | None = Field(None, description="JSON-RPC URL of the chain; unset: embedded chain")
    store: str | None = Field(
        None,
        description="the store's database URL, postgresql://USER:PASSWORD@HOST:PORT/DB; "
        "unset: SQLite in DATA/node.db",
    )
    consortium: str | None = Field(
        None,
        description="address of the Consortium contract to join on the --rpc chain; "
        "unset: the one in DATA/chain.json",
    )
    host: str = Field("127.0.0.1", description="address the API listens on")
    port: int = Field(8700, ge=1, le=65535, description="port the API listens on")
    member_name: str = Field("founding member", description="this member's name on chain")
    batch_size: int = Field(
        5000, ge=1, le=100_000, description="anchor a batch once this many records are pending"
    )
    batch_interval: float = Field(
        1.0, gt=0, description="seconds after which pending records are anchored anyway"
    )
    confirmations: int = Field(
        0,
        ge=0,
        description="blocks on top of a batch before its receipts are handed out, and of an "
        "event before the event index reads it",
    )
    workers: int | None = Field(
        None, ge=0, description="processes preparing submissions; unset: one per core, 0: none"
    )
    max_body_mb: int = Field(64, ge=1, description="largest body of POST /v1/records, in MiB")
    max_request_kb: int = Field(
        1024, ge=1, description="largest request body on every other route, in KiB"
    )
    body_timeout: float = Field(
        30.0,
        gt=0,
        description="seconds a request's body may take to arrive, counted from its head; "
        "each --body-min-rate-kb received adds one more second",
    )
    body_min_rate_kb: int = Field(
        32,
        ge=1,
        description="KiB a second a body must keep up, after --body-timeout, to go on being "
        "read (32: a 64 MiB submission passes on a 256 kbit/s line)",
    )
    max_connections: int = Field(
        1024,
        ge=1,
        description="connections served at once; a request on one more is answered 503",
    )
    rpc_gas_cap: int = Field(
        50_000_000, ge=21_000, description="most gas one eth_call on /rpc may use"
    )
    rpc_evm_timeout: float = Field(
        5.0, gt=0, description="seconds one eth_call or eth_getLogs on /rpc may run"
    )
    rpc_logs_max_blocks: int = Field(
        1000, ge=1, description="most blocks one eth_getLogs on /rpc may span"
    )
    blacklist_retention_years: int = Field(
        5,
        ge=1,
        le=10,
        description="years from the day an adverse event ended until its blacklist entry "
        "expires (征信业管理条例 Art. 16)",
    )
    retention_negative_years: int = Field(
        5,
        ge=1,
        le=10,
        description="years from the day an adverse event ended until a record of negative "
        "information (overdue, default, written_off, the settlement of one) is erased "
        "(征信业管理条例 Art. 16)",
    )
    retention_other_years: int = Field(
        5,
        ge=1,
        le=30,
        description="years from its event_date until a record with no negative information "
        "is erased",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="how much the node logs: debug, info, warning or error"
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="text lines, or json: one JSON object per line for log shippers"
    )
    staff_max_failures: int = Field(
        5,
        ge=1,
        description="wrong secrets in a row from one address that lock a staff account for "
        "that address",
    )
    staff_slowdown_after: int = Field(
        10,
        ge=1,
        description="refused tokens from one address after which it must wait before each "
        "next attempt: 1 s, 2 s, 4 s ... up to 5 minutes",
    )

    consent_max_window: int = Field(
        31_536_000,
        ge=1,
        le=2**64 - 1,
        description="longest consent window (validUntil - validFrom) this node relays, in "
        "seconds; the ConsentRegistry's own maximum (one year) applies as well",
    )
    borrower_relays_per_day: int = Field(
        20,
        ge=1,
        le=1_000_000,
        description="signed requests (consents, revocations, objections) this node relays "
        "for one subject in any 24 hours; past it 429 too_many_relays",
    )
    login_max_age: float = Field(
        300.0, gt=0, description="seconds a borrower's signed login stays fresh"
    )
    free_reports_per_year: int = Field(
        2,
        ge=0,
        le=366,
        description="reports a borrower gets free from this member each calendar year, "
        "China Standard Time (征信业管理条例 Art. 17)",
    )

    @field_validator("store")
    @classmethod
    def _a_store(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"(postgresql|sqlite)(\+\w+)?://", value):
            raise ValueError("must be a database URL: postgresql://USER@HOST:PORT/DB")
        return value

    @field_validator("consortium")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
            raise ValueError("must be the Consortium contract's address: 0x and 40 hex digits")
        return value

    @property
    def db_path(self) -> Path:
        return self.data / DB_FILE

    @property
    def store_url(self) -> str:
        """The store's database URL: --store, or SQLite in DATA/node.db."""
        return self.store or f"sqlite:///{self.db_path}"

    @property
    def keys_dir(self) -> Path:
        return self.data / KEYS_DIR

    @property
    def chain_file(self) -> Path:
        return self.data / CHAIN_FILE

    @property
    def node_url(self) -> str:
        """Where a command on this machine reaches the node these settings start."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"


def settings_error(err: ValidationError) -> str:
    """A bad setting in one line, named as both the option and the variable."""
    first = err.errors(include_input=False, include_url=False)[0]
    name = ".".join(str(p) for p in first["loc"])
    return f"--{name.replace('_', '-')} (or CREDITCHAIN_{name.upper()}): {first['msg']}"


class DataDirError(Exception):
    """The data directory cannot serve this command; the message is one line for the operator."""


def require_node(data: Path) -> None:
    """Refuse a directory that holds no node, so that a mistyped --data never quietly becomes a
    new, empty store. Creates nothing."""
    keys = data / KEYS_DIR
    if (data / DB_FILE).is_file() or (keys.is_dir() and any(keys.iterdir())):
        return
    raise DataDirError(
        f"{data} holds no node (no {DB_FILE}, no {KEYS_DIR}/): check --data, "
        f"or start the node there first (creditchain run --data {data})"
    )


def lock_data(data: Path) -> int:
    """Take `data` for this process: an exclusive flock on DATA/node.lock, held as long as the
    returned descriptor is open, and let go by the kernel however the process ends. A second
    node on the same directory is refused here, before it touches keys, store or chain."""
    try:
        fd = os.open(data / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as err:
        raise DataDirError(f"cannot lock {data / LOCK_FILE}: {err.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 16).decode("ascii", "replace").strip()
        os.close(fd)
        pid = f" (pid {holder})" if holder.isdigit() else ""
        raise DataDirError(
            f"{data} is in use by another node{pid}: stop it, or give this one its own --data"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd
