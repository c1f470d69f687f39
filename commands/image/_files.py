"""Generated images as Discord attachments, each under the interaction's size limit.

Discord refuses the whole message (413, 40005) when one file is over
`Interaction.filesize_limit`, and a request over 25 MiB in all; an image too large is
re-encoded smaller (Pillow: JPEG at falling quality, then scaled down), never dropped.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.image_types import GeneratedImage

if TYPE_CHECKING:
    from PIL import Image

REQUEST_BUDGET = 24 * 1024 * 1024  # under Discord's 25 MiB per request, with room for JSON
_QUALITIES = (90, 80, 70, 60, 50)
_SCALE_STEP = 0.75
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


@dataclass(frozen=True)
class FittedImage:
    data: bytes
    filename: str
    reencoded: bool


def per_file_limit(filesize_limit: int, count: int) -> int:
    """What each of `count` files may weigh so that each and all together fit."""
    return min(filesize_limit, REQUEST_BUDGET // max(1, count))


def fit(image: GeneratedImage, limit: int, stem: str) -> FittedImage:
    """`image` as is when it fits in `limit` bytes, else re-encoded to fit."""
    extension = _EXTENSIONS.get(image.mime_type, "png")
    if len(image.data) <= limit:
        return FittedImage(image.data, f"{stem}.{extension}", reencoded=False)
    return FittedImage(_shrink(image.data, limit), f"{stem}.jpg", reencoded=True)


def _shrink(data: bytes, limit: int) -> bytes:
    from PIL import Image  # on first oversize image: most instances never need Pillow

    with Image.open(io.BytesIO(data)) as opened:
        picture = opened.convert("RGB")  # JPEG has no alpha; generated images are opaque
    while True:
        for quality in _QUALITIES:
            encoded = _jpeg(picture, quality)
            if len(encoded) <= limit:
                return encoded
        width, height = picture.size
        if width <= 16 or height <= 16:
            return encoded  # cannot happen for any sane limit; never loop forever
        picture = picture.resize(
            (max(16, int(width * _SCALE_STEP)), max(16, int(height * _SCALE_STEP))),
            Image.Resampling.LANCZOS,
        )


def _jpeg(picture: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()
