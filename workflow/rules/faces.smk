# Stage 3: web images -> face crops (an image table like the LSUN one), one job per slice of the sorted list.

rule list_images:
    input:
        lambda w: raw_input(dataset_config(w)["images"]),
    output:
        "results/{dataset}/faces/inputs.txt",
    wildcard_constraints:
        dataset=one_of(datasets("faces")),
    params:
        images=lambda w: dataset_config(w)["images"],
        stamp=lambda w: raw_stamp(dataset_config(w)["images"]),
    localrule: True
    shell:
        "python -m dcgan list-images {params.images:q} {output:q}"


rule detect_faces:
    input:
        "results/{dataset}/faces/inputs.txt",
    output:
        images="results/{dataset}/images/part-{part}.npy",
        rows="results/{dataset}/images/part-{part}.tsv",
        rejects="results/{dataset}/images/part-{part}.rejects.tsv",
        provenance="results/{dataset}/images/part-{part}.json",
    wildcard_constraints:
        dataset=one_of(datasets("faces")),
    params:
        table_dir="results/{dataset}/images",
        options=lambda w: cli_options({"part": int(w.part), "parts": dataset_config(w)["partitions"],
                                       "image_size": config["image_size"], **config["faces"]}),
    log:
        "logs/{dataset}/detect_faces/part-{part}.log",
    threads: 1
    cache: True
    resources:
        mem_mb=4000,
        runtime=240,
    conda:
        "../../envs/extract.yaml"
    shell:
        "python -m dcgan detect-faces {input:q} {params.table_dir:q} {params.options} 2> {log:q}"


rule face_report:
    input:
        inputs="results/{dataset}/faces/inputs.txt",
        rows=lambda w: table_parts(w.dataset, ".tsv"),
        images=lambda w: table_parts(w.dataset, ".npy"),
    output:
        detections="results/{dataset}/detections.tsv",
        crops=report("results/{dataset}/faces/crops.png", category="Faces", subcategory="{dataset}",
                     labels={"dataset": "{dataset}", "figure": "kept face crops"}),
        sheet=report("results/{dataset}/faces/detections.png", category="Faces", subcategory="{dataset}",
                     labels={"dataset": "{dataset}", "figure": "detections on the web images"}),
    params:
        table_dir="results/{dataset}/images",
        options=lambda w: cli_options({"parts": config["datasets"][w.dataset]["partitions"], "seed": config["seed"]}),
    log:
        "logs/{dataset}/face_report.log",
    shell:
        "python -m dcgan face-report {params.table_dir:q} --inputs {input.inputs:q} --out-dir results/{wildcards.dataset}"
        " {params.options} 2> {log:q}"


def face_outputs(dataset):
    return [f"results/{dataset}/detections.tsv", f"results/{dataset}/faces/crops.png", f"results/{dataset}/faces/detections.png"]
