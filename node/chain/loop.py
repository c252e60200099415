"""A thread that works on the chain step by step until it is stopped.

The batcher and the event index both follow the chain this way. While the chain is down or
refuses (a step raises), the loop keeps everything it has and tries again with a backoff of
up to 30 s, saying so once in the log and once more when the chain answers again; whoever
shows the node's state reads `last_error`.
"""

import logging
import threading

from node.chain.client import ChainError, ContractRevert

MAX_BACKOFF = 30.0


class ChainLoop:
    """Subclasses define step() -> bool (True if something moved, so the next one runs at
    once) and set `what` ("anchoring", "indexing") for the log."""

    what = "work"
    idle = 0.1  # seconds to wait after a step that moved nothing

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> bool:
        raise NotImplementedError

    def start_thread(self, name: str) -> None:
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                moved = self.step()
            except Exception as err:  # the chain is down or refused: keep everything, retry
                self.note_error(err)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            if self.last_error:
                self.log.info("chain reachable again; %s resumes", self.what)
            self.last_error = None
            backoff = 0.5
            self._stop.wait(0.0 if moved else self.idle)

    def note_error(self, err: Exception) -> None:
        """Keep what went wrong for the node's status; log it when it changes. A chain's own
        refusal is said in its words; anything else by its type alone (no data in logs)."""
        known = isinstance(err, (ChainError, ContractRevert))
        message = str(err) if known else type(err).__name__
        if message != self.last_error:
            self.log.warning("%s paused (%s); retrying with backoff", self.what, message)
        self.last_error = message
