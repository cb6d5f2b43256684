"""Stage: an HTTP response's raw bytes -> the feed body, decompressed and capped at `limit`
bytes. Side effects: reads the response stream.

The cap holds for the declared Content-Length, for the bytes as sent and for the decompressed
body, so a small gzip bomb is refused like a large body. Only the encodings we ask for
(ACCEPT_ENCODING) are decoded; any other is an error.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from index.errors import FeedUnavailable

if TYPE_CHECKING:
    import httpx

# We decompress ourselves (bounded), so we only ask for what we can decode.
ACCEPT_ENCODING = "gzip, deflate"


class _BodyTooLarge(Exception):
    pass


class _Inflater:
    """Decompresses gzip or deflate without ever producing more than `limit` + 1 bytes."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding == "gzip"
        self._first = True
        self._z = self._new(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)

    @staticmethod
    def _new(wbits: int) -> zlib._Decompress:
        return zlib.decompressobj(wbits)

    def feed(self, data: bytes, sink: bytearray, limit: int) -> None:
        while data:
            if self._z.eof:
                # Another gzip member may follow; anything else after the end is ignored.
                if not (self._gzip and data.startswith(b"\x1f\x8b")):
                    return
                self._z = self._new(zlib.MAX_WBITS | 16)
            try:
                piece = self._z.decompress(data, limit - len(sink) + 1)
            except zlib.error:
                if self._gzip or not self._first:
                    raise
                # Some servers send raw deflate (no zlib header) as "deflate".
                self._first = False
                self._z = self._new(-zlib.MAX_WBITS)
                piece = self._z.decompress(data, limit - len(sink) + 1)
            self._first = False
            sink += piece
            if len(sink) > limit:
                raise _BodyTooLarge
            data = self._z.unconsumed_tail or (self._z.unused_data if self._z.eof else b"")

    def finish(self, sink: bytearray, limit: int) -> None:
        if not self._z.eof:
            sink += self._z.flush(limit - len(sink) + 1)
            if len(sink) > limit:
                raise _BodyTooLarge


def _inflater_for(url: str, content_encoding: str | None) -> _Inflater | None:
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return None
    if codings in (["gzip"], ["x-gzip"]):
        return _Inflater("gzip")
    if codings == ["deflate"]:
        return _Inflater("deflate")
    raise FeedUnavailable(
        url,
        f"the server sent Content-Encoding {content_encoding!r}, which we did not ask for "
        f"(we accept {ACCEPT_ENCODING})",
    )


def _too_large(url: str, limit: int, what: str) -> FeedUnavailable:
    return FeedUnavailable(
        url, f"body too large: {what} is over the {limit}-byte limit (max_body_bytes)"
    )


async def read_body(url: str, response: httpx.Response, limit: int) -> bytes:
    """The body of `response`, decompressed. Raises FeedUnavailable when it is over `limit`
    bytes (as declared, as sent or decompressed), corrupt, or in an encoding we did not ask for."""
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(url, limit, f"the declared Content-Length of {int(declared)} bytes")
    inflater = _inflater_for(url, response.headers.get("content-encoding"))
    body = bytearray()
    raw_bytes = 0
    try:
        async for chunk in response.aiter_raw():
            raw_bytes += len(chunk)
            if raw_bytes > limit:
                raise _too_large(url, limit, "the body as sent")
            if inflater is None:
                body += chunk
            else:
                inflater.feed(chunk, body, limit)
        if inflater is not None:
            inflater.finish(body, limit)
    except _BodyTooLarge:
        raise _too_large(url, limit, "the decompressed body") from None
    except zlib.error as exc:
        raise FeedUnavailable(url, f"the compressed body is corrupt: {exc}") from exc
    return bytes(body)
