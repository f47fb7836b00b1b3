"""A dataset's image table at a glance: counts of images, rejects (and classes) over all parts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from dcgan.errors import UserError
from dcgan.files import read_json, write_json
from dcgan.table import part_prefix, read_rejects


def reason_category(reason: str) -> str:
    """'too small (40x53, ...)' -> 'too small': the reason without its details."""
    return reason.split(" (")[0]


def summarise_table(
    table_dir: str | Path, parts: int, out: str | Path | None = None, *, dataset: str = "", source: str = ""
) -> dict:
    """Count a dataset's image table over its parts (and write the summary to `out`). A table without a
    single image is a UserError that names the dataset, its source and the rejects by reason: the
    stages after this one would have nothing to work on."""
    images, reasons, classes, per_part = 0, Counter(), Counter(), []
    searched = readable = 0  # a face dataset's photos, and those that could be decoded
    for index in range(parts):
        prefix = part_prefix(table_dir, index)
        meta_path = prefix.with_suffix(".json")
        if not meta_path.is_file():
            raise UserError(f"image-table part missing: {meta_path}")
        meta = read_json(meta_path, "image-table part record")
        images += meta["images"]
        if meta["stage"] == "detect_faces":
            searched += meta["source_images"]
            readable += meta["readable"]
        classes.update(meta.get("classes", {}))
        reasons.update(reason_category(r["reason"]) for r in read_rejects(prefix))
        per_part.append({"part": index, "images": meta["images"], "rejects": meta["rejects"]})
    summary = {
        "images": images,
        "rejects": sum(reasons.values()),
        "reject_reasons": dict(reasons),
        "parts": per_part,
    }
    if classes:  # an image folder's classes (source images)
        summary["classes"] = dict(sorted(classes.items()))
    if images == 0:
        named = " ".join(filter(None, [f"dataset {dataset}" if dataset else "", f"({source})" if source else ""]))
        why = ", ".join(f"{n} {r}" for r, n in reasons.most_common()) or "the input holds no entries"
        found = "no images extracted"
        if searched:  # a face dataset
            found = f"no face found in the {readable} readable images of {searched}"
        raise UserError(f"{named or table_dir}: {found}; rejects: {why} (listed in {table_dir}/part-*.rejects.tsv)")
    if out:
        write_json(out, summary)
    return summary
