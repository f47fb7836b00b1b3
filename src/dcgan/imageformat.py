"""Recognise encoded images by their magic bytes and tell whether they are complete."""

from __future__ import annotations

import struct

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
