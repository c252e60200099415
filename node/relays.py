"""How many transactions this node relays for one borrower: consents, revocations and
objections the borrower signs cost the borrower nothing, and the member's key sends them. A
bound address (or a stolen borrower key) must not be able to fill the chain through one
member's node, so each subject gets `per_day` relays in any 24 hours; past that the answer is
429 `too_many_relays` with Retry-After, and nothing is sent.

Counted in memory, per subject key, after every other check has passed (a stranger cannot spend
a borrower's relays: it needs the borrower's signature first). A restart forgets the counts."""

import threading
import time
from collections import deque
from collections.abc import Callable

from node.errors import DomainError

DAY = 86_400.0


class TooManyRelays(DomainError):
    code, status, field = "too_many_relays", 429, "subject_key"

    def __init__(self, per_day: int, retry_after: float) -> None:
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(
            detail=f"this node relays at most {per_day} signed requests (consents, revocations, "
            f"objections) for one subject in 24 hours; the next one can be relayed in "
            f"{self.retry_after} s"
        )

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RelayQuota:
    """At most `per_day` relays per subject key within `window` seconds."""

    def __init__(
        self, per_day: int, window: float = DAY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_day, self.window, self.clock = per_day, window, clock
        self._used: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, subject_key: str) -> None:
        """Count one relay for the subject; TooManyRelays (nothing counted) past the quota."""
        now = self.clock()
        with self._lock:
            if len(self._used) > 10_000:  # drop the subjects whose relays are all old
                self._used = {k: q for k, q in self._used.items() if q[-1] > now - self.window}
            used = self._used.setdefault(subject_key.lower(), deque())
            while used and used[0] <= now - self.window:
                used.popleft()
            if len(used) >= self.per_day:
                raise TooManyRelays(self.per_day, used[0] + self.window - now)
            used.append(now)


# how the routes that relay a borrower's signature document this refusal
RELAY_LIMIT: dict[int | str, dict[str, str]] = {
    429: {
        "description": "too_many_relays: this subject's relays of the last 24 hours are used "
        "(`--borrower-relays-per-day`); Retry-After gives the seconds until the next one"
    }
}
