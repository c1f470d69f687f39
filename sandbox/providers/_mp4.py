"""The real MP4 the video double serves, and a larger one that is still a valid MP4.

`clip_mp4()` is `data/hailuo-clip.mp4`: 1 s of H.264 at 128×72, generated for this project
(see data/README.md for how). `padded_mp4(total)` is the same clip followed by one
top-level `free` box of zeros, so the file is exactly `total` bytes and still plays: ISO
BMFF readers skip `free` boxes, and the clip's `moov` comes before its `mdat`, so no offset
changes. The double serves it for `[[big]]`.
"""

from __future__ import annotations

import functools
import struct
from pathlib import Path

CLIP_PATH = Path(__file__).with_name("data") / "hailuo-clip.mp4"
CLIP_WIDTH, CLIP_HEIGHT = 128, 72


@functools.cache
def clip_mp4() -> bytes:
    return CLIP_PATH.read_bytes()


@functools.cache
def padded_mp4(total: int) -> bytes:
    clip = clip_mp4()
    pad = total - len(clip)
    if pad < 8:
        raise ValueError(f"a padded MP4 must be at least {len(clip) + 8} bytes")
    return clip + struct.pack(">I4s", pad, b"free") + bytes(pad - 8)
