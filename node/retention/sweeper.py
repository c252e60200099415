"""The retention sweeper: schedules each stored record version, and erases the due ones
when the chain's time (the event index's block) reaches their expiry, and the records of
approved repair cases (node/repairs/, passed in as `removals`).

It works in the store alone: the Expired marks on chain are queued in the same transaction
as the erasure and sent by the batcher, which retries them until they land, so a crash or a
chain outage at any point loses nothing and erases nothing twice. After each erasure (and
once after every start, in case the node stopped between an erasure and its scrub) the
store's files are scrubbed of the old copies (service.scrub).
"""

import logging
import threading
from collections.abc import Callable

from sqlalchemy.engine import Engine

from node.retention import service
from node.retention.policy import Policy

log = logging.getLogger("creditchain.retention")


class RetentionSweeper:
    """Not a ChainLoop: it never calls the chain, and a step that fails (the store busy) is
    tried again at the next interval."""

    def __init__(
        self,
        *,
        engine: Engine,
        policy: Policy,
        interval: float = 5.0,
        removals: Callable[[], int] | None = None,
    ) -> None:
        self.engine = engine
        self.removals = removals  # other erasures to run in the same loop (approved repairs)
        self.policy = policy
        self.interval = interval
        self.last_error: str | None = None
        self._scrub_due = True  # a stop between an erasure and its scrub: scrub at start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> bool:
        """Schedule new versions, erase due ones, scrub; True if anything was done."""
        scheduled = service.schedule_new(engine=self.engine, policy=self.policy)
        erased = self.removals() if self.removals is not None else 0
        erased += service.erase_due(engine=self.engine)
        if erased:
            log.info("retention: %d record(s) erased", erased)
            self._scrub_due = True
        if self._scrub_due:
            self._scrub_due = not service.scrub(self.engine)
        return bool(scheduled or erased)

    def drain(self) -> None:
        """Steps in this thread until nothing is left to do now (tests and tools)."""
        while self.step():
            pass
        if self._scrub_due:
            raise RuntimeError("the store's WAL could not be checkpointed; a reader held it")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                moved = self.step()
            except Exception as err:  # the store busy or away: keep everything, try again
                if type(err).__name__ != self.last_error:
                    log.warning("retention paused (%s); retrying", type(err).__name__)
                self.last_error = type(err).__name__
                moved = False
            else:
                self.last_error = None
            self._stop.wait(0.0 if moved else self.interval)
