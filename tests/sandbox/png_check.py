"""A strict reader of the doubles' PNGs, so a test checks the whole file, not its header."""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_png(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, raw rows) of an 8-bit RGB PNG; fails on any bad CRC, a missing or
    misplaced chunk, trailing bytes, or pixel data of the wrong length."""
    assert data[:8] == SIGNATURE, "PNG signature"
    kinds, idat, at = [], b"", 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + body), f"CRC of {kind!r}"
        kinds.append(kind)
        if kind == b"IHDR":
            width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", body)
            assert (depth, colour) == (8, 2), "8-bit RGB"
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    assert at == len(data), "no bytes after IEND"
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    rows = zlib.decompress(idat)
    assert len(rows) == height * (1 + 3 * width), "one filter byte and RGB pixels per row"
    assert all(rows[y * (1 + 3 * width)] == 0 for y in range(height)), "filter type 0"
    return width, height, rows
