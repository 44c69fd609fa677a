"""HTTP `deflate` (RFC 1950 zlib) bodies assembled from pre-compressed pieces.

Each piece is compressed once as raw deflate ending in a sync flush (byte aligned, not final), so
a list page is the zlib header + the cached pieces of its incidents + a final empty block + the
Adler-32 of the uncompressed text. Clients see one ordinary zlib stream.
"""

from __future__ import annotations

import struct
import zlib

_HEADER = b"\x78\x01"  # deflate, 32K window, fastest compression level
_FINAL_EMPTY_BLOCK = b"\x03\x00"


def deflate(body: bytes) -> bytes:
    """One-shot zlib stream of `body` (fastest level)."""
    return zlib.compress(body, 1)


def raw_piece(data: bytes) -> bytes:
    """`data` as raw deflate blocks ending with a sync flush (joinable)."""
    comp = zlib.compressobj(1, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH)


_BASE = 65521


def adler32_combine(adler1: int, adler2: int, len2: int) -> int:
    """Adler-32 of A+B from adler32(A), adler32(B) and len(B) (zlib's adler32_combine)."""
    rem = len2 % _BASE
    sum1 = adler1 & 0xFFFF
    sum2 = (rem * sum1) % _BASE
    sum1 = (sum1 + (adler2 & 0xFFFF) + _BASE - 1) % _BASE
    sum2 = (sum2 + (adler1 >> 16) + (adler2 >> 16) + _BASE - rem) % _BASE
    return sum1 | (sum2 << 16)


class Piece:
    """A joinable raw-deflate piece with the Adler-32 and length of its plain text."""

    __slots__ = ("adler", "data", "length")

    def __init__(self, plain: bytes) -> None:
        self.data = raw_piece(plain)
        self.adler = zlib.adler32(plain)
        self.length = len(plain)


class ZlibJoiner:
    """Accumulates pieces (and small plain byte strings) into one zlib stream."""

    def __init__(self) -> None:
        self._parts = [_HEADER]
        self._adler = zlib.adler32(b"")

    def add(self, piece: Piece) -> None:
        """Append a pre-compressed piece."""
        self._parts.append(piece.data)
        self._adler = adler32_combine(self._adler, piece.adler, piece.length)

    def add_plain(self, plain: bytes) -> None:
        """Append bytes that have no cached piece (compressed now)."""
        self._parts.append(raw_piece(plain))
        self._adler = zlib.adler32(plain, self._adler)

    def finish(self) -> bytes:
        """The complete zlib stream."""
        self._parts.append(_FINAL_EMPTY_BLOCK + struct.pack(">I", self._adler))
        return b"".join(self._parts)
