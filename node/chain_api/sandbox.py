"""Strangers' eth_call and eth_getLogs on /rpc, run in a process of their own.

A call of a loop runs the EVM until its gas is spent (py-evm does a few million gas a
second), and one precompile can run long inside a single py_ecc computation. A thread could
be neither stopped nor kept off the chain object the node sends its own transactions with;
a process can. So the sandbox is one child process with a read-only view of the embedded
chain's SQLite file (ChainView: no data-dir lock, one read transaction per call, which in WAL
mode never holds up the node's writes). Calls take turns; a call that overruns its time is
killed with its process, and a fresh process takes its place.
"""

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

log = logging.getLogger("creditchain.chain")
START_TIMEOUT = 120.0  # seconds a fresh process may take to import py-evm and open the view
MAX_WAITING = 32  # calls waiting their turn; more are refused rather than held in memory


class SandboxUnavailable(RuntimeError):
    """The sandbox process could not be started."""


def _aborted(message: str) -> dict[str, Any]:
    return {"error": {"code": -32000, "message": message}}


class CallSandbox:
    """Runs eth_call and eth_getLogs over the embedded chain in a child process, each capped
    in gas and in time. The process starts at the first call and after each one killed."""

    def __init__(
        self, database: Path, *, gas_cap: int, timeout: float, max_log_blocks: int
    ) -> None:
        self.database = database
        self.gas_cap = gas_cap
        self.timeout = timeout
        self.max_log_blocks = max_log_blocks
        self._turn = asyncio.Lock()  # callers wait here, in the event loop, not in threads
        self._lock = threading.Lock()  # guards the process and its pipe
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._ready = False
        self._waiting = 0

    async def request(self, method: str, params: list) -> dict[str, Any]:
        """{"result": ...} or {"error": {...}}, within the time limit (plus start-up)."""
        if self._waiting >= MAX_WAITING:
            return {"error": {"code": -32005, "message": "too many calls waiting; try later"}}
        self._waiting += 1
        try:
            async with self._turn:
                return await run_in_threadpool(self._exchange, method, params)
        finally:
            self._waiting -= 1

    def _exchange(self, method: str, params: list) -> dict[str, Any]:
        with self._lock:
            try:
                conn = self._ready_connection()
            except SandboxUnavailable as err:
                log.error("cannot run calls from /rpc: %s", err)
                return _aborted("calls cannot run on this node now")
            try:
                conn.send((method, params))
                if not conn.poll(self.timeout):
                    log.warning("%s from /rpc ran past %gs; stopped it", method, self.timeout)
                    self._start()  # kills this one; the next call finds its successor up
                    return _aborted(f"execution aborted (timeout = {self.timeout:g}s)")
                outcome: dict[str, Any] = conn.recv()
            except (EOFError, OSError):  # the process died (out of memory, C stack, killed)
                log.warning("the process running %s from /rpc died; replacing it", method)
                self._start()
                return _aborted("execution aborted: the call's process died")
            return outcome

    def _ready_connection(self) -> Connection:
        if self._proc is None or not self._proc.is_alive():
            self._start()
        assert self._conn is not None
        if not self._ready:
            try:
                if not self._conn.poll(START_TIMEOUT) or self._conn.recv() != "ready":
                    raise EOFError
            except (EOFError, OSError):
                self._stop()
                raise SandboxUnavailable(f"no view of the chain at {self.database}") from None
            self._ready = True
        return self._conn

    def _start(self) -> None:
        self._stop()
        context = multiprocessing.get_context("spawn")  # never fork a process with threads
        parent_end, child_end = context.Pipe()
        args = (child_end, str(self.database), self.gas_cap, self.max_log_blocks, os.getpid())
        proc = context.Process(target=_serve, args=args, name="creditchain-rpc-calls", daemon=True)
        proc.start()
        child_end.close()
        self._proc, self._conn, self._ready = proc, parent_end, False

    def _stop(self) -> None:
        proc, conn, self._proc, self._conn = self._proc, self._conn, None, None
        if proc is not None:
            proc.kill()
            proc.join(10)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._stop()


def _serve(conn: Connection, database: str, gas_cap: int, max_log_blocks: int, parent: int) -> None:
    """The child: answers (method, params) from its pipe until the pipe or the node is gone."""
    from node.chain.view import ChainView
    from node.chain_api.rpc import answer
    from node.limits import keep_recursion_limit

    keep_recursion_limit()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    view = ChainView(Path(database), gas_cap=gas_cap)
    conn.send("ready")
    while True:
        try:
            method, params = conn.recv()
        except (EOFError, OSError):
            return
        with view.at_head() as w3:
            outcome = answer(w3, method, params, max_log_blocks=max_log_blocks)
        conn.send(outcome)


def _exit_with_parent(parent: int) -> None:
    """A node killed outright (SIGKILL) cannot stop its sandbox, maybe mid-loop: it leaves."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
