# Stage 5: DCGAN training from each dataset's shards; resumes from results/{dataset}/train/checkpoints/.
# FID is tracked against the dataset's reference (rule fid_reference) and the best weights kept (best.pt).
# train.processes > 1 runs DDP under torchrun on this job's node: one process per GPU (gloo on CPUs).


rule train:
    input:
        shards="results/{dataset}/shards",
        reference="results/{dataset}/eval/reference.npz",
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
    shell:
        "{params.launcher} -m dcgan train {input.shards:q} --out {params.out:q} --threads {threads}"
        " --reference {input.reference:q} --fid-weights {input.weights:q} {params.options} 2> {log:q}"
