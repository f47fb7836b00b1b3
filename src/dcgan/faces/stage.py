"""One slice of the sorted input list -> one image-table part of face crops (and its rejects)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import cv2
import torch

from dcgan.faces.detectors import make_detector
from dcgan.faces.quality import select_faces
from dcgan.faces.settings import FaceSettings
from dcgan.imageops import BadImage, decode
from dcgan.progress import progress
from dcgan.sources.listing import part_slice, path_key, read_list, read_listed
from dcgan.table import PartWriter, part_prefix

COLUMNS = ("key", "source", "width", "height", "x", "y", "w", "h", "score", "sharpness", "detector")


def face_key(path: str, index: int) -> str:
    return f"{path_key(path)}_{index}"


def detect_part(
    inputs_list: str | Path, table_dir: str | Path, *, part: int, parts: int, settings: FaceSettings
) -> dict:
    """Detect faces in one slice of the input list; write its image-table part of face crops."""
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    root, paths = read_list(inputs_list)
    mine = paths[part_slice(len(paths), part, parts)]
    detector = make_detector(settings)
    faces = readable = 0
    with PartWriter(part_prefix(table_dir, part), settings.image_size, COLUMNS) as writer:
        for path in progress(mine, desc=f"detect faces part {part}"):
            try:
                data = read_listed(root / path)
                rgb, _, width, height = decode(
                    data,
                    size=settings.image_size,
                    min_side=settings.min_face_size,
                    reduced=False,
                    max_pixels=settings.max_pixels,
                )
            except OSError as e:
                writer.reject(path, f"unreadable ({e.strerror})")
                continue
            except BadImage as e:
                writer.reject(path, str(e))
                continue
            readable += 1
            kept, reasons = select_faces(rgb, *detector(rgb), settings)
            for reason in reasons:
                writer.reject(path, reason)
            for index, face in enumerate(kept):
                x, y, w, h = (round(v, 1) for v in face.box)
                writer.add(
                    face.crop,
                    (
                        face_key(path, index),
                        path,
                        width,
                        height,
                        x,
                        y,
                        w,
                        h,
                        round(face.score, 3),
                        round(face.sharpness, 1),
                        settings.detector,
                    ),
                )
                faces += 1
        return writer.finish(
            "detect_faces",
            {**asdict(settings), "inputs": str(inputs_list), "part": part, "parts": parts},
            source_images=len(mine),
            readable=readable,
            faces=faces,
        )
