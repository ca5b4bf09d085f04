"""Request bodies read with a bound: a body over the limit is refused (413) as soon as its
declared length or the bytes received so far pass it, never read whole into memory."""
from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from services.common.errors import Refused


def _too_large(size: int, limit: int, declared: bool) -> Refused:
    what = "declares" if declared else "sends more than"
    return Refused(413, "body_too_large", f"the request {what} {size} bytes; the limit is {limit}")


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Refused(400, "invalid_content_length", f"Content-Length {declared!r} is not a byte count")
        if int(declared) > limit:
            raise _too_large(int(declared), limit, declared=True)
    # Content-Length may be absent (chunked) or wrong: count what actually arrives
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit, limit, declared=False)
            chunks.append(chunk)
    except ClientDisconnect:
        raise Refused(400, "incomplete_body", "the client went away before the body was complete") from None
    return b"".join(chunks)
