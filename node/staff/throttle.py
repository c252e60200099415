"""Slowing down one source of failed tokens, in memory, before any store or hash work.

A lock in the store is per (account, source), so a stranger's guesses lock no one else out;
this is what keeps the stranger slow. After `free` refused tokens from one source, each further
refusal makes it wait before its next attempt: 1 s, 2 s, 4 s ... up to MAX_WAIT. Attempts made
while it waits are turned away unread and do not lengthen the wait. A source quiet for
FORGET_AFTER starts afresh; so does every source when the node restarts, which costs nothing
that the store's locks do not still hold. A source is an IPv4 address or an IPv6 /64 (one
host usually owns the whole /64, so rotating within it buys nothing).
"""

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

MAX_WAIT = 300.0  # seconds
FORGET_AFTER = 900.0  # seconds without a refusal
MAX_SOURCES = 65_536  # the least recently refused are forgotten beyond this


def source_of(host: str | None) -> str:
    """The source a client address counts as: the address itself, an IPv6 /64, or "unknown"."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]  # not an IP (a test client, a Unix socket): its name
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass
class _Source:
    refused: int = 0
    last: float = 0.0
    until: float = 0.0  # may not try again before this


class Throttle:
    """Refusals per source and the wait they earn. Thread-safe: sync routes run in a pool."""

    def __init__(self) -> None:
        self._sources: OrderedDict[str, _Source] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, source: str, now: float | None = None) -> int:
        """Whole seconds `source` must still wait before its token is looked at; 0: go on."""
        now = time.monotonic() if now is None else now
        with self._lock:
            entry = self._sources.get(source)
            if entry is None or entry.until <= now:
                return 0
            return max(1, math.ceil(entry.until - now))

    def refused(self, source: str, *, free: int, now: float | None = None) -> None:
        """Count one refused token from `source`; past `free` of them it must wait, longer
        each time."""
        now = time.monotonic() if now is None else now
        with self._lock:
            entry = self._sources.pop(source, None)
            if entry is None or now - entry.last > FORGET_AFTER:
                entry = _Source()
            entry.refused += 1
            entry.last = now
            if entry.refused >= free:
                entry.until = now + min(MAX_WAIT, 2.0 ** min(entry.refused - free, 16))
            self._sources[source] = entry  # most recently refused last
            while len(self._sources) > MAX_SOURCES:
                self._sources.popitem(last=False)
