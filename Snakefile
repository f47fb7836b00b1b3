# dcgan-workflow: reproduce DCGAN (Radford, Metz & Chintala, 2015) from raw images.
# Stages live in workflow/rules/, one file each; `rule all` (the default target) builds everything
# and the HTML report (`rule results`: everything but the report).
# Run `snakemake --cores 8 all`; point it at your data with `--configfile my.yaml`.

import os
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.20")

# The demo config is the default; a --configfile replaces it instead of being merged into it,
# so a user's datasets never inherit the demo's.
if not workflow.overwrite_configfiles:
    configfile: os.path.join(workflow.basedir, "config", "config.yaml")

# Rules call `python -m dcgan`: this checkout's package, with the Python that runs Snakemake first on
# PATH (a conda env named by a rule's `conda:` directive is put in front of it when --sdm conda).
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(workflow.basedir) / "src"), os.environ.get("PYTHONPATH")]))
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from dcgan.config import config_errors, load_schema, missing_inputs

_schema_path = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
_problems = config_errors(config, load_schema(_schema_path))
if _problems:
    raise WorkflowError("invalid config:\n  " + "\n  ".join(_problems))
validate(config, str(_schema_path), set_default=True)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/faces.smk"
include: "workflow/rules/dedup.smk"
include: "workflow/rules/shards.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"

_missing = missing_inputs(config, demo_made_paths())
if _missing:
    raise WorkflowError("missing input data:\n  " + "\n  ".join(_missing))


rule all:
    default_target: True
    input:
        results_targets(),
        "report.html",
