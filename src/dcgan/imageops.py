"""Decode an encoded image into a square RGB array: the shared transform of every stage.

Shorter side scaled to `size` with INTER_AREA and the centre square kept, as torchvision's
Resize(size) + CenterCrop(size) do. JPEGs are decoded at 1/2, 1/4 or 1/8 scale by libjpeg's DCT
scaling when the reduced image still covers `size`, which is most of the speed of the stage; the
centre square then sits on the decoded grid, at most half a decoded pixel from the exact centre.
"""

from __future__ import annotations

import cv2
import numpy as np

from dcgan.files import write_bytes
from dcgan.imageformat import MAX_PIXELS, header_size, is_complete, sniff_format

# Decode straight to RGB (OpenCV >= 4.10); the REDUCED_GRAYSCALE_N constants are the bare scale bits.
_FULL = cv2.IMREAD_COLOR_RGB
_REDUCED = (
    (8, cv2.IMREAD_REDUCED_GRAYSCALE_8 | cv2.IMREAD_COLOR_RGB),
    (4, cv2.IMREAD_REDUCED_GRAYSCALE_4 | cv2.IMREAD_COLOR_RGB),
    (2, cv2.IMREAD_REDUCED_GRAYSCALE_2 | cv2.IMREAD_COLOR_RGB),
)


class BadImage(ValueError):
    """An input that cannot be used; the message is the reason recorded in the rejects file."""


def decode(
    data: bytes, *, size: int, min_side: int, reduced: bool = True, max_pixels: int = MAX_PIXELS
) -> tuple[np.ndarray, str, int, int]:
    """Decode `data` to RGB at the smallest JPEG scale that still covers `size`. The header is read
    first: an image declaring more than `max_pixels` pixels, or a shorter side under `min_side`, is
    rejected before any pixel buffer is allocated.

    Returns (image, format, original width, original height). Raises BadImage with the reason.
    """
    if len(data) == 0:
        raise BadImage("empty value")
    fmt = sniff_format(data)
    if fmt is None:
        raise BadImage(f"not an image (first bytes {bytes(data[:8]).hex(' ')})")
    if not is_complete(data, fmt):
        raise BadImage(f"truncated {fmt}")
    dims = header_size(data, fmt)
    if dims is None:
        raise BadImage(f"undecodable {fmt} (no readable header)")
    width, height = dims
    if width * height > max_pixels:
        raise BadImage(
            f"too large ({width}x{height}: {width * height / 1e6:,.0f} megapixels > max_pixels {max_pixels:,})"
        )
    if min(width, height) < min_side:
        raise BadImage(f"too small ({width}x{height}, shorter side < {min_side})")
    flag = _FULL
    if fmt == "jpeg" and reduced:
        short = min(width, height)
        for factor, reduced_flag in _REDUCED:
            if -(-short // factor) >= size:  # libjpeg rounds scaled sizes up
                flag = reduced_flag
                break
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    except cv2.error as e:  # e.g. a header OpenCV refuses
        raise BadImage(f"undecodable {fmt} ({str(e).strip().splitlines()[-1]})") from None
    if image is None:
        raise BadImage(f"undecodable {fmt}")
    return image, fmt, width, height


def centre_square(image: np.ndarray, size: int) -> np.ndarray:
    """Centre square of `image` resized to size x size with INTER_AREA."""
    h, w = image.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    square = image[y0 : y0 + side, x0 : x0 + side]
    if side == size:
        return np.ascontiguousarray(square)
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)


def decode_square(
    data: bytes, *, size: int, min_side: int, reduced: bool = True, max_pixels: int = MAX_PIXELS
) -> tuple[np.ndarray, str, int, int]:
    """decode() then centre_square(): (RGB size x size x 3 uint8, format, width, height)."""
    image, fmt, width, height = decode(data, size=size, min_side=min_side, reduced=reduced, max_pixels=max_pixels)
    return centre_square(image, size), fmt, width, height


def encode(image: np.ndarray, fmt: str, quality: int = 75) -> bytes:
    """Encode BGR pixels as jpeg, webp, png or bmp bytes."""
    params = {
        "jpeg": [cv2.IMWRITE_JPEG_QUALITY, quality],
        "webp": [cv2.IMWRITE_WEBP_QUALITY, quality],
        "png": [cv2.IMWRITE_PNG_COMPRESSION, 6],
        "bmp": [],
    }[fmt]
    ok, buf = cv2.imencode("." + ("jpg" if fmt == "jpeg" else fmt), image, params)
    if not ok:
        raise RuntimeError(f"could not encode {fmt}")
    return buf.tobytes()


def write_png(path, rgb: np.ndarray) -> None:
    """Write RGB pixels as a PNG, atomically."""
    write_bytes(path, encode(np.ascontiguousarray(rgb[..., ::-1]), "png"))


def tile_grid(tiles, columns: int, cell: int) -> np.ndarray:
    """RGB tiles (each at most cell x cell) laid out row by row on white, `columns` to a row."""
    rows = -(-max(len(tiles), 1) // columns)
    sheet = np.full((rows * cell, columns * cell, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        sheet[r * cell : r * cell + tile.shape[0], c * cell : c * cell + tile.shape[1]] = tile
    return sheet


_FONT, _FONT_SCALE, _LINE = cv2.FONT_HERSHEY_SIMPLEX, 0.5, 18


def _wrapped(text: str, width: int) -> list[str]:
    """`text` broken at spaces into lines that fit `width` pixels in the label font."""
    lines: list[str] = []
    for word in text.split():
        joined = f"{lines[-1]} {word}" if lines else word
        if lines and cv2.getTextSize(joined, _FONT, _FONT_SCALE, 1)[0][0] <= width:
            lines[-1] = joined
        else:
            lines.append(word)
    return lines or [""]


def text_band(labels: list[str], width: int, cell: int, *, bold: bool = False) -> np.ndarray:
    """A white band holding each label, wrapped to and centred in its `cell`-wide column."""
    wrapped = [_wrapped(label, cell - 6) for label in labels]
    band = np.full((max(map(len, wrapped)) * _LINE + 8, width, 3), 255, np.uint8)
    for column, lines in enumerate(wrapped):
        for i, line in enumerate(lines):
            text_width = cv2.getTextSize(line, _FONT, _FONT_SCALE, 1)[0][0]
            x = column * cell + max(3, (cell - text_width) // 2)
            cv2.putText(
                band, line, (x, 4 + (i + 1) * _LINE - 5), _FONT, _FONT_SCALE, (0, 0, 0), 2 if bold else 1, cv2.LINE_AA
            )
    return band


def titled_grid(images: np.ndarray, columns: int, title: str) -> np.ndarray:
    """Equal-sized RGB images `columns` to a row, made readable by annotate under `title`."""
    cell = images.shape[1] + 2
    return annotate(tile_grid(list(images), columns, cell), cell, title=title)


def annotate(
    sheet: np.ndarray,
    cell: int,
    *,
    title: str,
    columns: list[str] | None = None,
    rows: list[str] | None = None,
    min_cell: int = 96,
) -> np.ndarray:
    """A tile sheet (from tile_grid) made readable: tiles upscaled by a whole factor (nearest, so pixels stay
    pixels) to at least `min_cell`, labels above the columns and left of the rows, and a title on top."""
    factor = max(1, -(-min_cell // cell))
    # numpy, not cv2.resize: OpenCV's thread pool in a training process deadlocks its forked loader workers
    big = sheet.repeat(factor, axis=0).repeat(factor, axis=1)
    cell *= factor
    if columns:
        big = np.vstack([text_band(columns, big.shape[1], cell), big])
    if rows:
        label_width = 150
        left = np.full((big.shape[0], label_width, 3), 255, np.uint8)
        top = big.shape[0] - len(rows) * cell
        for r, label in enumerate(rows):
            lines = _wrapped(label, label_width - 8)
            y = top + r * cell + (cell - len(lines) * _LINE) // 2
            for i, line in enumerate(lines):
                cv2.putText(left, line, (4, y + (i + 1) * _LINE - 5), _FONT, _FONT_SCALE, (0, 0, 0), 1, cv2.LINE_AA)
        big = np.hstack([left, big])
    return np.vstack([text_band([title], big.shape[1], big.shape[1], bold=True), big])
