"""The node's settings: one class, read from the environment (prefix CREDITCHAIN_) and the CLI."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a node operator can set. CLI flags override the environment."""

    model_config = SettingsConfigDict(env_prefix="CREDITCHAIN_", extra="ignore")

    data: Path = Field(Path("data"), description="data directory (store, keys, embedded chain)")
    rpc: str | None = Field(None, description="JSON-RPC URL of the chain; unset: embedded chain")
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
        0, ge=0, description="blocks on top of a batch before its receipts are handed out"
    )
    workers: int | None = Field(
        None, ge=0, description="processes preparing submissions; unset: one per core, 0: none"
    )
    max_body_mb: int = Field(64, ge=1, description="largest body of POST /v1/records, in MiB")
    max_request_kb: int = Field(
        1024, ge=1, description="largest request body on every other route, in KiB"
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
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="how much the node logs: debug, info, warning or error"
    )
    staff_max_failures: int = Field(
        5, ge=1, description="failed token attempts in a row that lock a staff account"
    )

    @property
    def db_path(self) -> Path:
        return self.data / "node.db"

    @property
    def keys_dir(self) -> Path:
        return self.data / "keys"

    @property
    def chain_file(self) -> Path:
        return self.data / "chain.json"
