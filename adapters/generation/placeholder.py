"""Tiny real media files (PNG, WAV) made without third-party imaging libraries."""

from __future__ import annotations

import hashlib
import io
import math
import struct
import wave
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def placeholder_png(seed: str, size: int = 256) -> bytes:
    """A diagonal two-colour gradient whose colours come from ``seed``."""
    digest = hashlib.sha256(seed.encode()).digest()
    start, end = digest[:3], digest[3:6]
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter type: none
        for x in range(size):
            t = (x + y) / (2 * (size - 1))
            rows.extend(round(a + (b - a) * t) for a, b in zip(start, end, strict=True))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 6))
        + _chunk(b"IEND", b"")
    )


def placeholder_wav(seconds: int = 1, rate: int = 16000, tone_hz: int = 440) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = (
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * tone_hz * i / rate)))
            for i in range(seconds * rate)
        )
        out.writeframes(b"".join(frames))
    return buffer.getvalue()
