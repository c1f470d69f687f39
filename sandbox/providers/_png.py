"""Small real PNG files made with the standard library, for the image doubles.

`solid_png(64, 64, seed)` is a valid 8-bit RGB PNG (signature, IHDR, one IDAT, IEND, each
chunk with its CRC) filled with one colour derived from the seed, so two seeds give two
different images and the same seed always the same bytes.

`noise_png(512, 512, seed)` is the opposite: seeded pseudo-random pixels that zlib cannot
shrink, so the file is about as large as its raw pixels (a 512×512 one is 787 KB). The
doubles serve it for the `[[big]]` marker, to exercise uploads of realistic sizes.
"""

from __future__ import annotations

import functools
import hashlib
import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def seed_colour(seed: int) -> tuple[int, int, int]:
    digest = hashlib.sha256(str(seed).encode()).digest()
    return digest[0], digest[1], digest[2]


def _rgb_png(width: int, height: int, pixels: bytes, level: int = -1) -> bytes:
    """An 8-bit RGB PNG of `pixels` (each row already starts with its filter byte)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit, RGB, no interlace
    return (
        SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(pixels, level))
        + _chunk(b"IEND", b"")
    )


def _check_size(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise ValueError("width and height must be positive")


def solid_png(width: int = 64, height: int = 64, seed: int = 0) -> bytes:
    """A `width`×`height` RGB PNG of the colour `seed_colour(seed)`."""
    _check_size(width, height)
    row = b"\x00" + bytes(seed_colour(seed)) * width  # filter type 0 (None), then pixels
    return _rgb_png(width, height, row * height)


@functools.lru_cache(maxsize=16)
def noise_png(width: int = 512, height: int = 512, seed: int = 0) -> bytes:
    """A `width`×`height` RGB PNG of pseudo-random pixels drawn from `seed` (SHAKE-256, so
    the same seed gives the same bytes on every machine). Noise does not compress: the
    file is a little over `width * height * 3` bytes. Cached, since a double may serve the
    same seed repeatedly and the bytes never change."""
    _check_size(width, height)
    stride = width * 3
    noise = hashlib.shake_256(f"noise-png:{seed}".encode()).digest(stride * height)
    rows = b"".join(
        b"\x00" + noise[y * stride : (y + 1) * stride]  # filter type 0 (None), then pixels
        for y in range(height)
    )
    return _rgb_png(width, height, rows, level=1)  # level 1: the same size, sooner
