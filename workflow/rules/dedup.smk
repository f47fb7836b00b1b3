# Stage 2: near-duplicate removal. The paper's autoencoder semantic hash (or phash, the baseline):
# dedup_train -> dedup_hash (one job per image-table part) -> dedup_filter.


rule dedup_train:
    input:
        images=lambda w: table_parts(w.dataset, ".npy"),
        summary="results/{dataset}/images/table.json",
    output:
        model="results/{dataset}/dedup/autoencoder.pt",
        record="results/{dataset}/dedup/autoencoder.json",
    log:
        "logs/{dataset}/dedup_train.log",
    cache: True
    conda:
        "../../envs/dedup.yaml"
    threads: 1  # a fixed budget (~1 CPU-minute at LSUN scale); one thread keeps the weights reproducible
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        table_dir=folder_of("input.summary"),
        options=lambda w: cli_options(
            {
                "parts": config["datasets"][w.dataset]["partitions"],
                "seed": config["seed"],
                **config["dedup"]["autoencoder"],
            }
        ),
    shell:
        "python -m dcgan dedup train {params.table_dir:q} --model {output.model:q} --threads {threads}"
        " {params.options} 2> {log:q}"


rule dedup_hash:
    input:
        images="results/{dataset}/images/part-{part}.npy",
        summary="results/{dataset}/images/table.json",
        model=dedup_model,
    output:
        "results/{dataset}/dedup/hashes/part-{part}.npy",
    log:
        "logs/{dataset}/dedup_hash/part-{part}.log",
    conda:
        "../../envs/dedup.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        table_dir=folder_of("input.images"),
        options=lambda w: cli_options(
            {
                "part": int(w.part),
                "method": config["dedup"]["method"],
                "views": config["dedup"]["views"],
            }
        ),
        model=lambda w, input: f"--model {input.model}" if input.model else "",
    shell:
        "python -m dcgan dedup hash {params.table_dir:q} --out {output:q} {params.options} {params.model}"
        " --threads {threads} 2> {log:q}"


rule dedup_filter:
    input:
        hashes=dedup_hashes,
        rows=lambda w: table_parts(w.dataset, ".tsv"),
    output:
        duplicates="results/{dataset}/dedup/duplicates.tsv",
        stats=report(
            "results/{dataset}/dedup/stats.json",
            category="Dedup",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "counts, settings and timing"},
        ),
        gallery=report(
            "results/{dataset}/dedup/gallery.png",
            category="Dedup",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "a sample of collision groups"},
        ),
        largest=report(
            "results/{dataset}/dedup/largest.png",
            category="Dedup",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "the largest groups"},
        ),
    log:
        "logs/{dataset}/dedup_filter.log",
    conda:
        "../../envs/dedup.yaml"
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        table_dir=folder_of("input.rows"),
        hashes=folder_of("input.hashes"),
        out=folder_of("output.duplicates"),
        options=lambda w: cli_options(
            {
                "parts": config["datasets"][w.dataset]["partitions"],
                "seed": config["seed"],
                **{k: config["dedup"][k] for k in ("method", "radius", "views", "verify")},
            }
        ),
    shell:
        "python -m dcgan dedup filter {params.table_dir:q} --hashes {params.hashes:q} --out-dir {params.out:q}"
        " {params.options} 2> {log:q}"
