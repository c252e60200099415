"""The audit bundle: JSON Lines a member's node writes and an auditor reads, one line at a time.

    line 1      the header: {"creditchain_audit_bundle": 1, "member", "chain_id", "registry",
                "as_of_block", "created_at", "batches", "leaves",
                "withheld"}
    lines 2..   one per leaf of every batch the member anchored, in batch and leaf order:
                {"batch", "leaf", "kind": "record" | "query", "record" (or "entry" for a query),
                 "salt", "commitment", "status", "proof"}: "proof" is the leaf's RFC 9162
                audit path, its hashes end to end from the leaf up in one 0x-hex string.
                An erased record (its data key destroyed) keeps its place without clear text:
                {"batch", "leaf", "kind": "record", "erased": true, "commitment", "status",
                 "proof"}: no record, no salt. A query-log bundle (header "withheld":
                ["record"]) writes every record so, with "withheld": true for "erased".
    last line   the trailer: {"trailer": {"lines", "sha256", "signature"}}: the number of lines
                before it, the SHA-256 of their bytes (newlines included), and the member key's
                EIP-191 signature of "creditchain audit bundle <sha256>".

Hashes are 0x-hex. A record carries its subject key, never an identifier: the committed form.
Nothing needs the whole file in memory, to write it or to read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from node.audit.errors import BundleError

FORMAT = "creditchain_audit_bundle"
VERSION = 1
HEADER_FIELDS = ("member", "chain_id", "registry", "as_of_block", "created_at")
_TRAILER = b'{"trailer"'


def _message(digest: bytes) -> Any:
    return encode_defunct(text=f"creditchain audit bundle 0x{digest.hex()}")


class BundleWriter:
    """Writes a bundle line by line to a binary stream, hashing as it goes; `close` signs."""

    def __init__(self, out: IO[bytes], account: LocalAccount, header: dict[str, Any]) -> None:
        self.out, self.account = out, account
        self._hash = hashlib.sha256()
        self.lines = 0
        self.write({FORMAT: VERSION, "member": account.address, **header})

    def write(self, obj: dict[str, Any]) -> None:
        line = orjson.dumps(obj) + b"\n"
        self._hash.update(line)
        self.out.write(line)
        self.lines += 1

    def close(self) -> str:
        """Write the signed trailer; the bundle's SHA-256 as 0x-hex."""
        digest = self._hash.digest()
        signature = self.account.sign_message(_message(digest)).signature
        trailer = {"lines": self.lines, "sha256": "0x" + digest.hex(),
                   "signature": "0x" + bytes(signature).hex()}  # fmt: skip
        self.out.write(orjson.dumps({"trailer": trailer}) + b"\n")
        self.out.flush()
        return str(trailer["sha256"])


@dataclass
class Trailer:
    lines: int
    sha256: str
    signature: str


class BundleReader:
    """Reads a bundle: `header`, then `leaf_lines()` yields (line number, raw bytes) of every
    leaf line, hashing them; afterwards `trailer` holds the trailer (None if there was none)
    and `problems()` says what is wrong with the signature and hash."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self._hash = hashlib.sha256()
        first = stream.readline()
        self.bytes_read = len(first)
        try:
            header = orjson.loads(first)
        except orjson.JSONDecodeError:
            raise BundleError(detail="line 1 is not JSON: not an audit bundle") from None
        if not isinstance(header, dict) or header.get(FORMAT) != VERSION:
            why = f"line 1 is not the header of a version {VERSION} audit bundle"
            raise BundleError(detail=why)
        missing = [f for f in HEADER_FIELDS if f not in header]
        if missing:
            raise BundleError(detail=f"the header lacks {', '.join(missing)}")
        self._hash.update(first)
        self.header: dict[str, Any] = header
        self.lines = 1
        self.trailer: Trailer | None = None
        self.after_trailer = 0

    def leaf_lines(self) -> Iterator[tuple[int, bytes]]:
        """Read in blocks of 1 MiB, each hashed whole (one call per block, not per line)."""
        rest = b""
        while chunk := self.stream.read(1 << 20):
            self.bytes_read += len(chunk)
            data = rest + chunk if rest else chunk
            end = data.rfind(b"\n") + 1
            rest = data[end:]
            if end:
                yield from self._block(data[:end])
        if rest:  # a last line without its newline
            yield from self._block(rest)

    def _block(self, block: bytes) -> Iterator[tuple[int, bytes]]:
        """The leaf lines of a block of whole lines, hashed; the trailer read, if here."""
        if self.trailer is not None:
            self.after_trailer += len(block.rstrip(b"\n").split(b"\n"))
            return
        if block.startswith(_TRAILER):
            at: int | None = 0
        else:
            found = block.find(b"\n" + _TRAILER)
            at = found + 1 if found >= 0 else None
        signed = block if at is None else block[:at]
        self._hash.update(signed)
        lines = signed.split(b"\n")
        if lines[-1] == b"":
            lines.pop()  # what follows the last newline
        first, self.lines = self.lines, self.lines + len(lines)
        yield from enumerate(lines, first + 1)
        if at is not None:
            trailer, _, after = block[at:].partition(b"\n")
            self._read_trailer(trailer)
            if after.strip(b"\n"):
                self.after_trailer += len(after.rstrip(b"\n").split(b"\n"))

    def _read_trailer(self, line: bytes) -> None:
        try:
            t = orjson.loads(line)["trailer"]
            self.trailer = Trailer(int(t["lines"]), str(t["sha256"]), str(t["signature"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            self.after_trailer += 1

    def problems(self) -> list[str]:
        """What is wrong with the bundle as a signed whole; empty when nothing is."""
        if self.trailer is None:
            return ["the bundle has no signed trailer: it was cut short or never signed"]
        found = []
        digest = self._hash.digest()
        if self.after_trailer:
            found.append(f"{self.after_trailer} line(s) after the trailer")
        if self.trailer.lines != self.lines:
            found.append(f"the trailer counts {self.trailer.lines} lines, the bundle has "
                         f"{self.lines}")  # fmt: skip
        if self.trailer.sha256.lower() != "0x" + digest.hex():
            found.append("the bundle's bytes do not hash to the trailer's sha256: it was "
                         "changed after it was signed")  # fmt: skip
        try:  # the signature is over the hash the trailer states; the bytes, compared above
            stated = bytes.fromhex(self.trailer.sha256.removeprefix("0x"))
            signer = Account.recover_message(_message(stated), signature=self.trailer.signature)
        except Exception:  # a malformed hash or signature: eth_keys raises several kinds
            signer = None
        if signer is None or signer.lower() != str(self.header["member"]).lower():
            found.append(f"the trailer is not signed by the member {self.header['member']}")
        return found
