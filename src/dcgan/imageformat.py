"""Recognise encoded images by their magic bytes, tell whether they are complete, and read their size
from the header (before any pixel buffer exists: a small file may declare a huge canvas)."""

from __future__ import annotations

import struct

# The most pixels an input image may declare (config key max_pixels): a 50-megapixel photo decodes to
# 150 MB; a few-MB PNG that declares 60000x60000 would need 10 GB, so such a file is rejected unread.
MAX_PIXELS = 50_000_000

# JPEG start-of-frame markers (baseline, extended, progressive, lossless; not DHT C4, JPG C8, DAC CC).
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Markers that stand alone, without a length field.
_STANDALONE = {0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8}


def sniff_format(data: bytes) -> str | None:
    """'jpeg', 'png', 'webp', 'bmp' or None, from the first bytes; never from a file name."""
    if data[:2] == b"\xff\xd8":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:2] == b"BM" and len(data) >= 26:
        return "bmp"
    return None


def is_complete(data: bytes, fmt: str) -> bool:
    """False when the encoded image was cut short (a decoder would silently pad it)."""
    if fmt == "jpeg":
        # Entropy-coded data cannot contain FF D9 (FF is byte-stuffed), so an end-of-image marker near
        # the end means the scan was not cut; trailing bytes after it are tolerated.
        return data.rfind(b"\xff\xd9", max(0, len(data) - 4096)) != -1
    if fmt == "png":
        return data.rfind(b"IEND", max(0, len(data) - 64)) != -1
    if fmt == "webp":
        return len(data) >= 8 + struct.unpack_from("<I", data, 4)[0]
    if fmt == "bmp":
        return len(data) >= struct.unpack_from("<I", data, 2)[0]
    return True


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the JPEG frame header, without decoding; None if there is none."""
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        if marker == 0xDA:  # start of scan before any frame header
            return None
        length = (data[i + 2] << 8) | data[i + 3]
        if marker in _SOF_MARKERS:
            if i + 9 > n:
                return None
            height, width = struct.unpack_from(">HH", data, i + 5)
            return width, height
        i += 2 + length
    return None


def header_size(data: bytes, fmt: str) -> tuple[int, int] | None:
    """(width, height) that the header of an image of format `fmt` declares; None if it cannot be read."""
    try:
        if fmt == "jpeg":
            return jpeg_size(data)
        if fmt == "png" and data[12:16] == b"IHDR":
            return struct.unpack_from(">II", data, 16)
        if fmt == "bmp":
            if struct.unpack_from("<I", data, 14)[0] == 12:  # the OS/2 header: 16-bit sides
                return struct.unpack_from("<HH", data, 18)
            width, height = struct.unpack_from("<ii", data, 18)
            return abs(width), abs(height)  # a negative height stores the rows top-down
        if fmt == "webp":
            return _webp_size(data)
    except struct.error:  # shorter than its header
        return None
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: the canvas, 24 bits each, minus one
        width, height = (int.from_bytes(data[i : i + 3], "little") + 1 for i in (24, 27))
        return (width, height) if len(data) >= 30 else None
    if chunk == b"VP8 ":  # lossy: 14 bits each after the key frame's start code
        if data[23:26] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20:21] == b"\x2f":  # lossless: 14 bits each, minus one
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None
