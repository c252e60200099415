"""Reading another member's node's answer. A member's node may be slow, broken or hostile:
whatever it sends, the exchange ends within its timeout (an answer trickled a byte at a time
does not keep it open, as httpx's timeouts, each per read, would), the node holds at most
PEER_ANSWER_LIMIT bytes of it, and a body nested too deep is not JSON rather than an error
that fails every member's answer."""

import asyncio
from typing import Any, NamedTuple

import httpx
import orjson

from node.limits import MiB

PEER_ANSWER_LIMIT = 16 * MiB  # the most this node reads of one answer from a member's node


class Answer(NamedTuple):
    status: int
    body: Any  # parsed JSON; None if it is not JSON
    size: int  # bytes read


class AnswerTooLarge(Exception):
    """The answer is larger than the limit: it was not read past it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the answer is larger than {limit // MiB} MiB, the most this node reads")


async def post(
    http: httpx.AsyncClient,
    url: str,
    *,
    content: bytes,
    headers: dict[str, str],
    timeout: float,
    limit: int = PEER_ANSWER_LIMIT,
) -> Answer:
    """The answer to one POST to a member's node, the whole exchange within `timeout`
    seconds: TimeoutError past it, AnswerTooLarge past `limit` bytes, httpx.HTTPError or
    OSError if the node cannot be reached. A compressed answer, which was not asked for
    and could grow past any limit as it is decompressed, is not read: it is not JSON."""
    headers = {**headers, "Accept-Encoding": "identity"}  # what is counted is what is held
    async with asyncio.timeout(timeout):
        async with http.stream("POST", url, content=content, headers=headers,
                               timeout=timeout) as resp:  # fmt: skip
            if resp.headers.get("content-encoding", "identity").lower() != "identity":
                return Answer(resp.status_code, None, 0)
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise AnswerTooLarge(limit)
            chunks, size = [], 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise AnswerTooLarge(limit)
                chunks.append(chunk)
    try:
        body = orjson.loads(b"".join(chunks))  # orjson: depth-limited
    except orjson.JSONDecodeError:
        body = None
    return Answer(resp.status_code, body, size)
