"""Reading a request body with a size limit, straight from ASGI messages."""

from __future__ import annotations


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


async def read_body(scope, receive, max_bytes: int) -> bytes:
    """The whole body, at most ``max_bytes``: Content-Length is checked before reading anything,
    a chunked body is counted as it arrives. Raises BodyTooLarge or ClientGone."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit() or int(value) > max_bytes:
                raise BodyTooLarge  # a garbled length is treated as "unknown, too large"
            break
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
