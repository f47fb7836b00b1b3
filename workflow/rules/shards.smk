# Stage 4: each dataset's kept images -> shuffled, byte-identical WebDataset shards + wids index.


rule shards:
    input:
        images=lambda w: table_parts(w.dataset, ".npy"),
        rows=lambda w: table_parts(w.dataset, ".tsv"),
        duplicates="results/{dataset}/dedup/duplicates.tsv",
    output:
        directory("results/{dataset}/shards"),
    params:
        table_dir="results/{dataset}/images",
        parts=lambda w: config["datasets"][w.dataset]["partitions"],
        seed=config["seed"],
        options=cli_options(config["shards"]),
    log:
        "logs/{dataset}/shards.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        "../../envs/shards.yaml"
    shell:
        "python -m dcgan shards {params.table_dir:q} --parts {params.parts} --duplicates {input.duplicates:q}"
        " --out {output:q} --dataset {wildcards.dataset} --seed {params.seed} {params.options} 2> {log:q}"
