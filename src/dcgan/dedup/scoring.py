"""Precision and recall of a removed set against the demo generator's ground truth."""

from __future__ import annotations


def score(duplicates: list[dict], truth: dict, kept_keys: set[str] | None = None) -> dict:
    """duplicates: rows with `key` and `duplicate_of`; truth: bedroom_truth.json.

    precision: removed images whose kept image is truly in their duplicate group;
    recall: correctly removed images / redundant copies (group sizes minus one), over the groups whose
    members were all extracted (`kept_keys`: the keys in the image table, when given).
    """
    group_of = {key: i for i, group in enumerate(truth["groups"]) for key in group}
    correct = sum(
        1 for row in duplicates if row["key"] in group_of and group_of[row["key"]] == group_of.get(row["duplicate_of"])
    )
    groups = truth["groups"] if kept_keys is None else [[k for k in g if k in kept_keys] for g in truth["groups"]]
    redundant = sum(max(len(g) - 1, 0) for g in groups)
    removed = len(duplicates)
    return {
        "removed": removed,
        "correct": correct,
        "redundant": redundant,
        "precision": correct / removed if removed else 1.0,
        "recall": correct / redundant if redundant else 1.0,
    }
