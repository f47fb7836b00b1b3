"""Stage 6's commands: `evaluate metrics | figures | svm | table` (one job each), and the figures by hand
or for `forget`: `arithmetic`, `samples`, `find-boxes`, `forget`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dcgan.commands import Threads, add_command, add_settings, settings_from
from dcgan.evaluation.settings import (
    ArithmeticSettings,
    BoxesSettings,
    EvaluateJob,
    FigureSettings,
    ForgetSettings,
    MetricsSettings,
    SamplesSettings,
    SvmSettings,
)
from dcgan.fid.settings import ScoreSettings

MODEL = "the train stage's model.pt or best.pt"


def _metrics(args: argparse.Namespace) -> None:
    from dcgan.device import device_with_threads
    from dcgan.evaluation.metrics import measure

    meta = measure(
        args.model,
        args.reference,
        args.weights,
        args.out_dir,
        settings=settings_from(MetricsSettings, args),
        scoring=settings_from(ScoreSettings, args),
        dedup_method=args.dedup_method,
        dedup_model=args.dedup_model,
        hash_dir=args.hashes,
        device=device_with_threads(args.threads),
    )
    scores = "FID and KID skipped" if meta["fid"] is None else f"FID {meta['fid']:.2f}, KID {meta['kid']['mean']:.4f}"
    collisions = meta["memorisation"]["hash_collisions"]
    print(
        f"{args.out_dir}/metrics.json: {scores} ({meta['generated_images']} samples); "
        f"{collisions['colliding']} of {collisions['samples']} samples share a training image's dedup hash"
    )


def _figures(args: argparse.Namespace) -> None:
    from dcgan.device import device_with_threads
    from dcgan.evaluation.figures import draw

    meta = draw(
        args.model,
        args.reference,
        args.metrics_csv,
        args.out_dir,
        settings=settings_from(FigureSettings, args),
        device=device_with_threads(args.threads),
    )
    print(f"{args.out_dir}: {', '.join(meta['figures'])}")


def _svm(args: argparse.Namespace) -> None:
    from dcgan.device import device_with_threads
    from dcgan.evaluation.svm import classify

    meta = classify(
        args.model, args.out, settings=settings_from(SvmSettings, args), device=device_with_threads(args.threads)
    )
    demo = meta["demo_photo_windows"]
    print(
        f"{args.out}: D-feature SVM {demo['trained_d']['test_accuracy']:.3f} "
        f"vs random D {demo['random_d']['test_accuracy']:.3f} (demo photo windows)"
    )


def _table(args: argparse.Namespace) -> None:
    from dcgan.evaluation.scores_table import write_scores_table

    rows = write_scores_table(args.metrics, args.svm, args.out)
    print(f"{args.out}: {len(rows)} scores")


def _arithmetic(args: argparse.Namespace) -> None:
    import torch

    from dcgan.device import device_with_threads
    from dcgan.evaluation.generator import arithmetic_figure, arithmetic_grid, load_models, parse_seeds
    from dcgan.imageops import write_png

    g, _, model = load_models(args.model, device_with_threads(1))
    seeds = [parse_seeds(group) for group in (args.a, args.b, args.c)]
    with torch.inference_mode():
        sheet = arithmetic_grid(g, model, *seeds, seed=args.seed, noise=args.noise)
    write_png(args.out, arithmetic_figure(sheet, model.image_size, *seeds))
    print(f"{args.out}: mean z of {args.a} - {args.b} + {args.c}, with 8 neighbours")


def _samples(args: argparse.Namespace) -> None:
    from dcgan.device import device_with_threads
    from dcgan.evaluation.generator import generate, load_models, seeded_z
    from dcgan.imageops import write_png

    g, _, model = load_models(args.model, device_with_threads(1))
    seeds = list(range(args.count))
    for seed, image in zip(seeds, generate(g, seeded_z(seeds, model, next(g.parameters()).device)), strict=True):
        write_png(Path(args.out_dir) / f"seed-{seed:06d}.png", image)
    print(f"{args.out_dir}: {args.count} samples, seed-000000.png ... seed-{args.count - 1:06d}.png")


def _find_boxes(args: argparse.Namespace) -> None:
    from dcgan.device import device_with_threads
    from dcgan.evaluation.forgetting import write_boxes
    from dcgan.evaluation.generator import load_models
    from dcgan.evaluation.object_boxes import find_boxes

    g, _, model = load_models(args.model, device_with_threads(1))
    boxes = find_boxes(g, model, list(range(args.samples)), args.cascade)
    write_boxes(args.out, boxes)
    found = sum(map(len, boxes.values()))
    print(f"{args.out}: {found} boxes on {len(boxes)} of {args.samples} samples ({args.cascade})")


def _forget(args: argparse.Namespace) -> None:
    from dcgan.device import device_with_threads
    from dcgan.evaluation.forgetting import NothingToFit, forget, forget_figure, read_boxes
    from dcgan.evaluation.generator import load_models
    from dcgan.files import write_json
    from dcgan.plots import message_figure
    from dcgan.provenance import record

    boxes = read_boxes(args.boxes)
    g, _, model = load_models(args.model, device_with_threads(1))
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


def add_evaluate_commands(sub) -> None:
    evaluate = sub.add_parser("evaluate", help="evaluation of a trained model: metrics | figures | svm | table")
    jobs = evaluate.add_subparsers(dest="job", required=True, metavar="<job>")

    p = add_command(jobs, "metrics", "FID/KID and memorisation checks of a trained model's samples", _metrics)
    p.add_argument("model", help=MODEL)
    p.add_argument("--reference", required=True, help="the .npz fid-reference wrote")
    p.add_argument("--weights", required=True, help="the file fid-weights wrote")
    p.add_argument("--out-dir", required=True, help="writes metrics.json, memorisation.png and distances.png")
    p.add_argument("--hashes", required=True, help="the dataset's dedup hash folder (part-XXXX.npy)")
    p.add_argument("--dedup-model", help="the dedup autoencoder (method autoencoder)")
    add_settings(p, EvaluateJob)
    add_settings(p, Threads)
    add_settings(p, MetricsSettings, "evaluate")
    add_settings(p, ScoreSettings, "evaluate")

    p = add_command(jobs, "figures", "samples, latent walks, vector arithmetic, loss curves, D's features", _figures)
    p.add_argument("model", help=MODEL)
    p.add_argument("--reference", required=True, help="the .npz fid-reference wrote (its images, for D's features)")
    p.add_argument("--metrics-csv", required=True, help="the train stage's metrics.csv, for the loss curves")
    p.add_argument("--out-dir", required=True, help="writes the figures and figures.json")
    add_settings(p, Threads)
    add_settings(p, FigureSettings, "evaluate")

    p = add_command(jobs, "svm", "the paper's L2-SVM on D's features, beside a random-init D", _svm)
    p.add_argument("model", help=MODEL)
    p.add_argument("--out", required=True, help="svm.json to write")
    add_settings(p, Threads)
    add_settings(p, SvmSettings, "evaluate")

    p = add_command(jobs, "table", "scores.tsv: the headline figures of metrics.json and svm.json", _table)
    p.add_argument("--metrics", required=True, help="metrics.json of `evaluate metrics`")
    p.add_argument("--svm", required=True, help="svm.json of `evaluate svm`")
    p.add_argument("--out", required=True, help="scores.tsv to write")
    _add_generator_commands(sub)


def _add_generator_commands(sub) -> None:
    """The commands that draw from a trained G alone: arithmetic, samples, find-boxes, forget."""
    p = add_command(
        sub, "arithmetic", "vector arithmetic on z: mean(A) - mean(B) + mean(C) and 8 neighbours", _arithmetic
    )
    p.add_argument("model", help=MODEL)
    p.add_argument("--a", required=True, help="comma-separated seeds, one z each (e.g. smiling woman)")
    p.add_argument("--b", required=True, help="seeds to subtract (e.g. neutral woman)")
    p.add_argument("--c", required=True, help="seeds to add (e.g. neutral man)")
    p.add_argument("--out", required=True, help="PNG to write")
    add_settings(p, ArithmeticSettings)

    p = add_command(
        sub, "samples", "G's sample of each seed 0..N-1 as its own PNG (to draw boxes on for forget)", _samples
    )
    p.add_argument("model", help=MODEL)
    p.add_argument("--out-dir", required=True, help="writes seed-XXXXXX.png")
    add_settings(p, SamplesSettings, "forget")

    p = add_command(
        sub, "find-boxes", "boxes of an object class on G's samples by an OpenCV cascade (input of forget)", _find_boxes
    )
    p.add_argument("model", help=MODEL)
    p.add_argument("--out", required=True, help="boxes TSV to write (seed, x, y, w, h)")
    add_settings(p, BoxesSettings, "forget")

    p = add_command(
        sub, "forget", "forgetting to draw: drop G's feature maps that predict boxed objects (paper Fig. 6)", _forget
    )
    p.add_argument("model", help=MODEL)
    p.add_argument("--boxes", required=True, help="TSV with columns seed, x, y, w, h (pixels of the generated image)")
    p.add_argument("--out-dir", required=True, help="writes forget.png (with / without the maps) and forget.json")
    add_settings(p, ForgetSettings)
