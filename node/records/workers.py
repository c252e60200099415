"""Preparing submissions on the machine's other cores.

Validating, pseudonymising, committing and encrypting a record is pure CPU work that needs
no store; worker processes do it for whole submissions (parsing the body too), so the API
process only stores and answers. Each worker gets the record keys once, at start, over its
pipe; they are never written anywhere.
"""

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from starlette.concurrency import run_in_threadpool

from node.keys.store import NodeSecrets
from node.records.service import (
    InvalidSubmission,
    RecordKeys,
    Sealed,
    parse_submission,
    prepare_submission,
)

log = logging.getLogger("creditchain.records")
_keys: RecordKeys | None = None


def _init(master_key: bytes, consortium_secret: bytes, parent: int) -> None:
    global _keys
    _keys = RecordKeys.from_keys(master_key, consortium_secret)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """A node killed outright (SIGKILL) cannot stop its workers: they notice and leave."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _ready() -> int:
    """In a worker: nothing; asked of each worker at start so that it is up before a POST."""
    return os.getpid()


def _prepare_body(body: bytes) -> tuple[str, Any]:
    """In a worker: ("ok", prepared records) or ("invalid", (detail, field))."""
    assert _keys is not None, "worker started without keys"
    try:
        records = parse_submission(body)
    except InvalidSubmission as err:
        return "invalid", (err.detail, err.field)
    return "ok", prepare_submission(records, _keys)


def default_workers() -> int:
    """One worker per core: the API process mostly waits on them and on SQLite."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Preparer:
    """Prepares submission bodies in worker processes, or in this process if workers == 0."""

    def __init__(self, secrets: NodeSecrets, keys: RecordKeys, workers: int) -> None:
        self.keys = keys
        self.workers = workers
        self._initargs = (secrets.master_key, secrets.consortium_secret, os.getpid())
        self.pool = self._new_pool() if workers > 0 else None

    def _new_pool(self) -> ProcessPoolExecutor:
        """A pool whose workers start now, in the background: a worker takes a second or two
        to start (more on a busy machine), which the first POST would otherwise wait for."""
        pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init,
            initargs=self._initargs,
        )
        for _ in range(self.workers):
            pool.submit(_ready)
        return pool

    async def prepare(self, body: bytes) -> list[Sealed | dict[str, Any]]:
        """The body's records, each Sealed or rejected; InvalidSubmission for a bad body."""
        if self.pool is None:
            return await run_in_threadpool(
                lambda: prepare_submission(parse_submission(body), self.keys)
            )
        loop = asyncio.get_running_loop()
        try:
            status, value = await loop.run_in_executor(self.pool, _prepare_body, body)
        except BrokenProcessPool:  # a worker died (killed, out of memory): start afresh
            log.warning("a submission worker died; starting new workers")
            self.pool = self._new_pool()
            status, value = await loop.run_in_executor(self.pool, _prepare_body, body)
        if status == "invalid":
            raise InvalidSubmission(*value)
        return value

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
