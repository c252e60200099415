"""What another member's node can make this one do when it asks it something: whatever the
member answers (endless, huge, trickled, nested too deep, pages without end), the member is
named with what went wrong, and the node reads no more than its limits."""

import asyncio
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
import pytest
from eth_account import Account

from node.chain_api.forward import forward
from node.peers.answers import PEER_ANSWER_LIMIT
from node.queries.requester import ask_member
from node.regulator import querylog
from node.regulator.schemas import PAGE

MiB = 2**20
MEMBER = {"address": "0x" + "ab" * 20, "name": "member-2", "node_url": "http://member-2.example"}


class Stream(httpx.AsyncByteStream):
    """A body produced by `chunks`, counting what the reader pulled from it."""

    def __init__(self, chunks: Callable[[], AsyncIterator[bytes]]) -> None:
        self.chunks = chunks
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.chunks():
            self.pulled += len(chunk)
            yield chunk


def _member_sends(stream: Stream, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, stream=stream)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def _ask(http: httpx.AsyncClient, timeout: float = 30) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async with http:
            return await ask_member(http, MEMBER, path="/v1/peer/queries", body=b"{}",
                                    headers={}, timeout=timeout)  # fmt: skip

    return asyncio.run(run())


def test_a_member_answering_without_end_is_cut_off_at_the_limit_and_named():
    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b" " * MiB

    stream = Stream(endless)
    result = _ask(_member_sends(stream))
    assert result["status"] == "rejected" and result["member"] == MEMBER["address"]
    assert result["error"]["error"] == "answer_too_large"
    assert "16 MiB" in result["error"]["detail"]
    assert stream.pulled <= PEER_ANSWER_LIMIT + MiB  # held no more than the limit and a chunk


def test_a_member_declaring_a_huge_answer_is_refused_before_it_is_read():
    async def huge() -> AsyncIterator[bytes]:
        for _ in range(1024):
            yield b" " * MiB

    stream = Stream(huge)
    result = _ask(_member_sends(stream, {"Content-Length": str(1024 * MiB)}))
    assert result["status"] == "rejected"
    assert result["error"]["error"] == "answer_too_large"
    assert stream.pulled == 0


def test_a_member_trickling_its_answer_is_named_as_timed_out():
    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"records": ['
        while True:  # a byte now and then: each read is quick, the answer never ends
            await asyncio.sleep(0.05)
            yield b" "

    result = _ask(_member_sends(Stream(trickle)), timeout=1)
    assert result["status"] == "timeout"
    assert result["error"] == {"error": "timeout", "detail": "no answer within 1s"}


def test_a_member_answering_json_nested_too_deep_is_named_not_a_failure_of_the_query():
    async def deep() -> AsyncIterator[bytes]:
        yield b"[" * 100_000 + b"]" * 100_000

    result = _ask(_member_sends(Stream(deep)))
    assert result["status"] == "refused"
    assert result["error"] == {"error": "http_200"}


# -- the regulator's node reading a member's query log, page after page ----------------------


def _fetch_log(handler: Callable[[httpx.Request], httpx.Response]) -> tuple[dict, int]:
    """The regulator's result for one member whose node answers with `handler`, and how
    many pages it was asked for."""
    asked = 0

    def counting(request: httpx.Request) -> httpx.Response:
        nonlocal asked
        asked += 1
        return handler(request)

    chain = SimpleNamespace(client=SimpleNamespace(account=Account.create()), chain_id=1,
                            addresses={"Consortium": "0x" + "11" * 20})  # fmt: skip

    async def run() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(counting)) as http:
            return await querylog.fetch_log(http, chain, MEMBER, since=0, until=86_400,
                                            timeout=30)  # fmt: skip

    return asyncio.run(run()), asked


def test_a_member_sending_pages_without_end_is_named_once_its_log_passes_the_limit(
    monkeypatch,
):
    monkeypatch.setattr(querylog, "MAX_LOG_ENTRIES", 20 * PAGE)

    def endless(request: httpx.Request) -> httpx.Response:
        after = orjson.loads(request.content)["after"]
        return httpx.Response(200, json={"receipts": [], "pending": PAGE, "next": after + 1})

    result, asked = _fetch_log(endless)
    assert result["status"] == "rejected" and result["receipts"] == []
    assert result["error"]["error"] == "answer_too_large"
    assert asked == 21  # the page that passed the limit was the last asked for


def test_a_member_sending_the_same_page_again_is_not_asked_again():
    def same(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"receipts": [], "pending": PAGE, "next": 0})

    result, asked = _fetch_log(same)
    assert result["status"] == "answered" and result["pending"] == PAGE
    assert asked == 1


def test_a_member_whose_pages_together_pass_the_byte_limit_is_named(monkeypatch):
    monkeypatch.setattr(querylog, "MAX_LOG_BYTES", 8 * MiB)
    padding = "x" * MiB

    def padded(request: httpx.Request) -> httpx.Response:
        after = orjson.loads(request.content)["after"]
        return httpx.Response(200, json={"receipts": [], "pending": 0, "next": after + 1,
                                         "padding": padding})  # fmt: skip

    result, asked = _fetch_log(padded)
    assert result["status"] == "rejected"
    assert result["error"]["error"] == "answer_too_large"
    assert asked == 8


@pytest.mark.parametrize("page", [{"receipts": {}, "pending": 0}, {"pending": "many"}])
def test_a_page_of_the_wrong_shape_is_refused_naming_it(page):
    result, _ = _fetch_log(lambda _: httpx.Response(200, json=page))
    assert result["status"] == "refused"
    assert result["error"]["error"] == "invalid_page"


# -- /rpc passed on to a chain reached over JSON-RPC -------------------------------------------


@pytest.mark.parametrize("gas", ["0xzz", "lots", "0x" + "f" * 5000])
def test_an_eth_call_with_gas_that_is_no_number_is_a_json_rpc_error_not_a_failure(gas):
    answer = asyncio.run(forward(7, "eth_call", [{"to": "0x" + "11" * 20, "gas": gas}, "latest"],
                                 url="http://127.0.0.1:9", gas_cap=50_000_000,
                                 max_log_blocks=1000))  # fmt: skip
    if gas.startswith("0xf"):  # a number, however large: capped, then passed on (no chain here)
        assert answer["error"]["message"] == "the chain's endpoint did not answer"
    else:
        assert answer["error"] == {"code": -32602, "message": "gas must be a hex quantity"}
    assert answer["id"] == 7
