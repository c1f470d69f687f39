"""A strict reader of the video double's MP4s: the whole file must parse as ISO-BMFF boxes."""

from __future__ import annotations

import struct
from dataclasses import dataclass

# Boxes whose body is made of boxes, on the way to the track's sample description.
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"dinf", b"edts"}


@dataclass(frozen=True)
class Box:
    kind: bytes
    start: int  # offset of the box header in the file
    size: int  # header included
    header: int  # 8, or 16 with a 64-bit size

    @property
    def body(self) -> tuple[int, int]:
        return self.start + self.header, self.start + self.size


def boxes(data: bytes, start: int = 0, end: int | None = None) -> list[Box]:
    """The boxes that exactly tile data[start:end]; fails on any size that does not fit."""
    end = len(data) if end is None else end
    found, at = [], start
    while at < end:
        assert end - at >= 8, f"a truncated box header at {at}"
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[at + 8 : at + 16])
            header = 16
        elif size == 0:
            size = end - at
        assert size >= header and at + size <= end, f"box {kind!r} at {at} overruns"
        assert kind.isascii() and kind.strip(), f"box type {kind!r} at {at}"
        found.append(Box(kind, at, size, header))
        at += size
    assert at == end
    return found


def child(data: bytes, parent: Box, kind: bytes) -> Box:
    matches = [b for b in boxes(data, *parent.body) if b.kind == kind]
    assert len(matches) == 1, f"{parent.kind!r} has {len(matches)} {kind!r} boxes"
    return matches[0]


@dataclass(frozen=True)
class Mp4:
    top: tuple[bytes, ...]  # the top-level box types, in order
    brand: bytes
    codec: bytes
    width: int
    height: int
    duration_s: float


def check_mp4(data: bytes) -> Mp4:
    """What a player needs of a one-track MP4: `ftyp` first, `moov` with a video track whose
    sample entry holds an `avcC`, chunk offsets that point into `mdat`."""
    top = boxes(data)
    assert top[0].kind == b"ftyp", "ftyp comes first"
    brand = data[top[0].body[0] : top[0].body[0] + 4]
    kinds = [b.kind for b in top]
    assert kinds.count(b"moov") == 1 and kinds.count(b"mdat") == 1
    moov = next(b for b in top if b.kind == b"moov")
    mdat = next(b for b in top if b.kind == b"mdat")
    mvhd = child(data, moov, b"mvhd")
    body = mvhd.body[0]
    assert data[body] == 0, "mvhd version 0"
    timescale, duration = struct.unpack(">II", data[body + 12 : body + 20])
    trak = child(data, moov, b"trak")
    tkhd = child(data, trak, b"tkhd").body[0]
    width, height = (v >> 16 for v in struct.unpack(">II", data[tkhd + 76 : tkhd + 84]))
    stbl = child(data, child(data, child(data, trak, b"mdia"), b"minf"), b"stbl")
    stsd = child(data, stbl, b"stsd")
    (entries,) = struct.unpack(">I", data[stsd.body[0] + 4 : stsd.body[0] + 8])
    assert entries == 1
    (entry,) = boxes(data, stsd.body[0] + 8, stsd.body[1])
    assert boxes(data, entry.body[0] + 78, entry.body[1])[0].kind == b"avcC"
    stco = child(data, stbl, b"stco").body[0]
    (count,) = struct.unpack(">I", data[stco + 4 : stco + 8])
    offsets = struct.unpack(f">{count}I", data[stco + 8 : stco + 8 + 4 * count])
    assert count >= 1 and all(mdat.body[0] <= o < mdat.body[1] for o in offsets)
    return Mp4(
        top=tuple(kinds),
        brand=brand,
        codec=entry.kind,
        width=width,
        height=height,
        duration_s=duration / timescale,
    )
