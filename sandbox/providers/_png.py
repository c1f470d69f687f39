"""Small real PNG files made with the standard library, for the image doubles.

`solid_png(64, 64, seed)` is a valid 8-bit RGB PNG (signature, IHDR, one IDAT, IEND, each
chunk with its CRC) filled with one colour derived from the seed, so two seeds give two
different images and the same seed always the same bytes.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def seed_colour(seed: int) -> tuple[int, int, int]:
    digest = hashlib.sha256(str(seed).encode()).digest()
    return digest[0], digest[1], digest[2]


def solid_png(width: int = 64, height: int = 64, seed: int = 0) -> bytes:
    """A `width`×`height` RGB PNG of the colour `seed_colour(seed)`."""
    if width < 1 or height < 1:
        raise ValueError("width and height must be positive")
    row = b"\x00" + bytes(seed_colour(seed)) * width  # filter type 0 (None), then pixels
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit, RGB, no interlace
    return (
        SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(row * height))
        + _chunk(b"IEND", b"")
    )
