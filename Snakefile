# dcgan-workflow: reproduce DCGAN (Radford, Metz & Chintala, 2015) from raw images.
# Stages live in workflow/rules/, one file each; `rule all` (the default target) builds everything
# and the HTML report (`rule results`: everything but the report).
# Run `snakemake --cores 8 all`; point it at your data with `--configfile my.yaml`. As a Snakemake module,
# deploy it with `module dcgan: snakefile: ...; config: config` and `use rule * from dcgan`.

import os
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.20")

# This file's folder, also when the workflow is a module of another Snakefile (workflow.basedir is then
# the user's folder).
HERE = Path(workflow.current_basedir)

# The demo config is the default; a --configfile replaces it instead of being merged into it,
# so a user's datasets never inherit the demo's.
if not workflow.overwrite_configfiles:

    configfile: HERE / "config" / "config.yaml"


# Jobs call `python -m dcgan`: this checkout's package, with the Python that runs Snakemake first on PATH
# (a conda env named by a rule's `conda:` directive goes in front of it when --sdm conda). These are set
# for the jobs, not read from the user, so they are no `envvars:`.
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [str(HERE / "src"), os.environ.get("PYTHONPATH")])),
    PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
)
sys.path.insert(0, str(HERE / "src"))

from dcgan.config import config_errors, input_problems, load_schema

SCHEMA = HERE / "workflow" / "schemas" / "config.schema.yaml"
_problems = config_errors(config, load_schema(SCHEMA))
if _problems:
    raise WorkflowError("invalid config:\n  " + "\n  ".join(_problems))
validate(config, str(SCHEMA), set_default=True)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/faces.smk"
include: "workflow/rules/dedup.smk"
include: "workflow/rules/shards.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


_problems = input_problems(config, demo_made_paths())
if _problems:
    raise WorkflowError("input data:\n  " + "\n  ".join(_problems))


rule all:
    default_target: True
    input:
        results_targets(),
        "report.html",
