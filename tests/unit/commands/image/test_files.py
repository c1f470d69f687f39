"""Images fit Discord's attachment limit: kept when they fit, re-encoded when not."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from commands.image._files import fit, per_file_limit
from services.image_types import GeneratedImage


def noise_png(side: int) -> bytes:
    rng = random.Random(side)
    picture = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("limit", "count", "expected"),
    [
        (10 * 1024 * 1024, 1, 10 * 1024 * 1024),
        (10 * 1024 * 1024, 4, 6 * 1024 * 1024),  # four files share the 24 MiB request budget
        (25 * 1024 * 1024, 1, 24 * 1024 * 1024),
        (8 * 1024 * 1024, 2, 8 * 1024 * 1024),
    ],
)
def test_each_file_gets_the_smaller_of_the_limit_and_its_share(limit, count, expected):
    assert per_file_limit(limit, count) == expected


def test_an_image_that_fits_is_sent_as_it_came():
    data = noise_png(32)
    fitted = fit(GeneratedImage(data, "image/png"), 1_000_000, "image-1")
    assert (fitted.data, fitted.filename, fitted.reencoded) == (data, "image-1.png", False)


def test_a_jpeg_keeps_its_extension():
    fitted = fit(GeneratedImage(b"\xff\xd8\xff" + b"0" * 10, "image/jpeg"), 100, "a")
    assert fitted.filename == "a.jpg"


@pytest.mark.parametrize("limit", [200_000, 50_000, 8_000])
def test_an_oversize_image_is_reencoded_under_the_limit(limit):
    data = noise_png(512)  # about 790 KB of noise: no lossless encoding shrinks it
    assert len(data) > 780_000
    fitted = fit(GeneratedImage(data, "image/png"), limit, "big")
    assert fitted.reencoded
    assert fitted.filename == "big.jpg"
    assert len(fitted.data) <= limit
    assert Image.open(io.BytesIO(fitted.data)).format == "JPEG"
