"""Conventions a user and the workflow catalog rely on: lint, snakefmt, ruff, deployment as a module, a user's
config never building the demo data, `dcgan <stage> --help` and the config reference."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import inspect
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dcgan.cli import build_parser, main
from dcgan.config import load_schema, schema_markdown
from helpers import REPO, SMALL_DEMO, TEST_CONFIG, photo_rgb, pil_bytes, run_workflow, write_lmdb


def test_snakemake_lint_is_clean(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "Lints for" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_rule_files_are_snakefmt_formatted():
    snakefmt = shutil.which("snakefmt", path=str(Path(sys.executable).parent))
    result = subprocess.run([snakefmt, "--check", str(REPO)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_python_is_ruff_clean(command):
    """ruff with the project's settings (pyproject.toml) over the package, the tests and the benchmarks."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    result = subprocess.run([ruff, *command, "src", "tests", "benchmarks"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_function_in_the_package_is_longer_than_80_lines():
    long = []
    for path in sorted((REPO / "src" / "dcgan").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 80:
                long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}")
    assert not long, long


def imported_modules(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Each package module's imports of other package modules, those inside functions included
    (`from dcgan.demo import photos` imports the module photos, not the package)."""
    edges = {}
    for name, path in modules.items():
        edges[name] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dcgan"):
                submodules = {f"{node.module}.{alias.name}" for alias in node.names} & set(modules)
                edges[name] |= submodules or ({node.module} & set(modules))
    return edges


def test_no_module_imports_itself_through_others():
    root = REPO / "src"
    modules = {
        ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): path
        for path in root.rglob("*.py")
    }
    edges = imported_modules(modules)
    state, cycles = {}, []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(edges[module]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(path[path.index(target) :] + [target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(modules):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles


def test_the_package_reads_the_workflows_schema():
    from dcgan.config import SCHEMA

    assert SCHEMA.resolve() == REPO / "workflow" / "schemas" / "config.schema.yaml"


def deploy(folder: Path, config: dict) -> Path:
    """The layout `snakedeploy deploy-workflow` writes: a Snakefile that uses this workflow as a module."""
    (folder / "config").mkdir(parents=True)
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    snakefile = folder / "workflow" / "Snakefile"
    snakefile.parent.mkdir()
    snakefile.write_text(
        f'configfile: "config/config.yaml"\n\n\nmodule dcgan:\n    snakefile:\n        "{REPO / "Snakefile"}"'
        "\n    config:\n        config\n\n\nuse rule * from dcgan\n"
    )
    return snakefile


def snakemake_in(folder: Path, snakefile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args, "-s", str(snakefile), "-d", str(folder)],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_deployed_as_a_module_from_another_folder_it_runs_the_test_config(tmp_path):
    snakefile = deploy(tmp_path, yaml.safe_load(TEST_CONFIG.read_text()))
    planned = snakemake_in(tmp_path, snakefile, "-n", "--quiet", "rules", "all")
    assert planned.returncode == 0, planned.stderr
    from_checkout = run_workflow(tmp_path / "checkout", ["all"], dryrun=True, config=SMALL_DEMO)
    assert re.search(rf"^total +{len(from_checkout)}$", planned.stdout, re.MULTILINE)  # every job, as from the checkout
    ran = snakemake_in(
        tmp_path, snakefile, "--cores", "2", "results/bedroom/shards", "results/photos/images/table.json"
    )
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "results/bedroom/shards/manifest.tsv").is_file()
    assert (tmp_path / "resources/demo/image_folder_truth.json").is_file()  # the demo data, in the user's folder
    assert (tmp_path / "logs/bedroom/dedup_train.log").is_file()


def test_a_users_config_never_builds_the_demo_data(tmp_path):
    lmdb = write_lmdb(
        tmp_path / "mine" / "lmdb", {f"{i:040x}".encode(): pil_bytes(photo_rgb(), "JPEG") for i in range(3)}
    )
    mine = {**SMALL_DEMO, "datasets": {"mine": {"source": "lsun", "lmdb": str(lmdb), "partitions": 1}}, "forget": {}}
    for config in (mine, {k: v for k, v in mine.items() if k != "demo"}):  # config.yaml copied whole, or trimmed
        folder = tmp_path / ("with_demo" if "demo" in config else "without_demo")
        planned = snakemake_in(folder, deploy(folder, config), "-n", "--quiet", "rules", "all")
        assert planned.returncode == 0, planned.stderr
        assert "demo_data" not in planned.stdout and re.search(r"^extract +1$", planned.stdout, re.MULTILINE)


def subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(command words, parser) of every `dcgan` stage, nested ones (dedup train) included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                if any(isinstance(a, argparse._SubParsersAction) for a in child._actions):
                    yield from subcommands(child, (*prefix, name))
                else:
                    yield (*prefix, name), child


def test_every_option_of_every_stage_has_a_help_line_and_its_default(capsys):
    stages = list(subcommands(build_parser()))
    assert len(stages) > 20
    for words, parser in stages:
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"dcgan {' '.join(words)} {action.dest}: no help"
        with pytest.raises(SystemExit):
            main([*words, "--help"])
        shown = capsys.readouterr().out
        for action in parser._actions:
            if action.option_strings and not action.required and action.default not in (None, argparse.SUPPRESS):
                assert f"(default: {action.default})" in " ".join(shown.split()), f"{words} {action.dest}"


def schema_default(schema: dict, section: str, name: str):
    """The schema's default of setting `name` of `section` ('' for none): the section's own key, else the
    top-level key of that name (seed, image_size; also train.image_size, whose 0 means the top-level one).
    None when the setting is no config key (a job's part, threads, ...)."""
    node = schema
    for key in filter(None, section.split(".")):
        node = node["properties"][key]
    own = node["properties"].get(name, {}).get("default") if section else None
    top = schema["properties"].get(name, {}).get("default")
    return top if own is None or (own == 0 and top is not None) else own


def test_every_default_comes_from_a_settings_dataclass_with_the_schemas_value():
    """argparse states no default of its own: each one is a field of a settings dataclass (dcgan.commands.
    add_settings), and a field that is a config key has the schema's default."""
    schema = load_schema()
    compared = 0
    for words, parser in subcommands(build_parser()):
        for action in parser._actions:
            if not action.option_strings or action.default in (None, argparse.SUPPRESS):
                continue
            where = f"dcgan {' '.join(words)} --{action.dest}"
            assert hasattr(action, "settings"), f"{where}: a default of argparse's own"
            settings, section = action.settings
            expected = schema_default(schema, section, action.dest)
            if expected is not None:
                assert action.default == expected, f"{where} ({settings.__name__}): {action.default!r} != {expected!r}"
                compared += 1
    assert compared > 100  # the face, dedup, shard, train and evaluate settings at least


# The config sections each package's library functions take settings of; every package also takes the
# top-level keys (seed, image_size, max_pixels).
PACKAGE_SECTIONS = {
    "sources": ("extract",),
    "dedup": ("dedup", "dedup.autoencoder"),
    "faces": ("faces",),
    "shards": ("shards",),
    "train": ("train",),
    "fid": ("evaluate",),
    "evaluation": ("evaluate", "forget"),
    "demo": ("demo",),
}


def library_defaults():
    """(where, parameter, default, package) of every defaulted parameter of every function and method
    the package defines (settings dataclasses aside: their fields are the defaults' home)."""
    import dcgan

    for info in pkgutil.walk_packages(dcgan.__path__, "dcgan."):
        if info.name == "dcgan.__main__":
            continue
        module = importlib.import_module(info.name)
        package = info.name.split(".")[1] if info.ispkg or info.name.count(".") > 1 else ""
        for thing in vars(module).values():
            if getattr(thing, "__module__", None) != info.name or dataclasses.is_dataclass(thing):
                continue
            functions = [thing] if inspect.isfunction(thing) else []
            if inspect.isclass(thing):
                functions = [f for f in vars(thing).values() if inspect.isfunction(f)]
            for function in functions:
                for parameter in inspect.signature(function).parameters.values():
                    if parameter.default is not inspect.Parameter.empty:
                        where = f"{info.name}.{function.__qualname__}"
                        yield where, parameter.name, parameter.default, package


def test_no_library_function_restates_a_setting_with_another_default():
    """A function's default for a parameter named like a setting of its package's config sections is the
    schema's (better still: the function takes the settings dataclass). `threads` is a job's CPU share,
    which the rule passes, not a setting of the run."""
    schema, checked, wrong = load_schema(), 0, []
    for where, name, default, package in library_defaults():
        if name == "threads":
            continue
        sections = [s for s in PACKAGE_SECTIONS.get(package, ()) if name in schema_section(schema, s)]
        expected = schema_default(schema, sections[0], name) if sections else schema_default(schema, "", name)
        if expected is None:
            continue
        checked += 1
        if default != expected:
            wrong.append(f"{where}({name}={default!r}): the schema says {expected!r}")
    assert not wrong, wrong
    assert checked > 10


def schema_section(schema: dict, section: str) -> dict:
    node = schema
    for key in section.split("."):
        node = node["properties"][key]
    return node["properties"]


def test_the_config_reference_is_the_schemas():
    assert (REPO / "config" / "README.md").read_text() == schema_markdown(load_schema())


# keys of the `evaluate` section the rules read themselves (which model, which dataset's D, a job's threads)
EVALUATE_WORKFLOW_KEYS = {"checkpoint", "features_from", "threads"}


def test_every_evaluate_setting_has_one_job_that_takes_it():
    """Each key of the `evaluate` section is a field of a job's settings dataclass (the rules pass a job the
    keys of its dataclasses), or a key the workflow reads: a new key cannot be left behind by every job."""
    from dcgan.evaluation.settings import FigureSettings, MetricsSettings, SvmSettings
    from dcgan.fid.settings import ReferenceSettings, ScoreSettings

    held = {}
    for job in (MetricsSettings, ScoreSettings, FigureSettings, SvmSettings, ReferenceSettings):
        for field in dataclasses.fields(job):
            held.setdefault(field.name, []).append(job.__name__)
    keys = set(schema_section(load_schema(), "evaluate"))
    assert keys - EVALUATE_WORKFLOW_KEYS == set(held) - {"seed"}
    shared = {key: jobs for key, jobs in held.items() if len(jobs) > 1}
    assert shared == {"seed": ["MetricsSettings", "FigureSettings", "SvmSettings"]} | {
        "batch_size": ["MetricsSettings", "ReferenceSettings"]  # Inception's batch, for samples and reference alike
    }
