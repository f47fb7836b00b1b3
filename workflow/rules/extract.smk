# Stage 1: LSUN-format LMDB -> image table, one job per key range.


rule extract:
    input:
        lambda w: raw_input(dataset_config(w)["lmdb"]),
    output:
        images="results/{dataset}/images/part-{part}.npy",
        rows="results/{dataset}/images/part-{part}.tsv",
        rejects="results/{dataset}/images/part-{part}.rejects.tsv",
        provenance="results/{dataset}/images/part-{part}.json",
    wildcard_constraints:
        dataset=one_of(datasets("lsun")),
    params:
        lmdb=lambda w: dataset_config(w)["lmdb"],
        stamp=lambda w: raw_stamp(dataset_config(w)["lmdb"]),
        table_dir="results/{dataset}/images",
        options=lambda w: cli_options({"part": int(w.part), "parts": dataset_config(w)["partitions"],
                                       "max_images": dataset_config(w)["max_images"], "image_size": config["image_size"],
                                       "min_size": config["extract"]["min_size"]}),
        decode_flag="" if config["extract"]["reduced_decode"] else "--no-reduced-decode",
    log:
        "logs/{dataset}/extract/part-{part}.log",
    threads: 1
    cache: True
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        "../../envs/extract.yaml"
    shell:
        "python -m dcgan extract {params.lmdb:q} {params.table_dir:q} {params.options} {params.decode_flag} 2> {log:q}"


rule image_table:
    input:
        provenance=lambda w: table_parts(w.dataset, ".json"),
        rejects=lambda w: table_parts(w.dataset, ".rejects.tsv"),
    output:
        "results/{dataset}/images/table.json",
    params:
        table_dir="results/{dataset}/images",
        parts=lambda w: config["datasets"][w.dataset]["partitions"],
    localrule: True
    shell:
        "python -m dcgan table-summary {params.table_dir:q} --parts {params.parts} --out {output:q}"
