"""Check a workflow config against the JSON schema, with one message per problem naming its key."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml


def load_schema(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def _where(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def config_errors(config: dict, schema: dict) -> list[str]:
    """Schema violations as 'key.path: message', sorted; empty when the config is valid."""
    validator = jsonschema.Draft202012Validator(schema)
    messages = set()
    for error in validator.iter_errors(config):
        # For if/then and anyOf failures the useful message is in the innermost errors.
        leaves = [e for e in error.context if not e.context] if error.context else [error]
        for leaf in leaves:
            messages.add(f"{_where(leaf)}: {leaf.message}")
    return sorted(messages)


def missing_inputs(config: dict, made_by_workflow: set[str]) -> list[str]:
    """Dataset input paths that neither exist nor are made by a rule (the demo data)."""
    messages = []
    for name, dataset in config.get("datasets", {}).items():
        for key in ("lmdb", "images"):
            path = dataset.get(key)
            if path and path not in made_by_workflow and not Path(path).exists():
                messages.append(f"datasets.{name}.{key}: no such file or folder: {path}")
    for key in ("cifar10", "svhn_train", "svhn_test"):
        path = config.get("evaluate", {}).get(key)
        if path and not Path(path).exists():
            messages.append(f"evaluate.{key}: no such file or folder: {path}")
    return messages
