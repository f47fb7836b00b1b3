# The embedded demo data, made from photos that ship in installed packages: only when the config has a
# `demo` section and some dataset reads the data it makes.


if demo_made_paths():

    rule demo_data:
        output:
            lmdb=directory(f"{config['demo']['out']}/bedroom_train_lmdb"),
            web_images=directory(f"{config['demo']['out']}/web_images"),
            bedroom_truth=f"{config['demo']['out']}/bedroom_truth.json",
            faces_truth=f"{config['demo']['out']}/faces_truth.json",
            image_folder=directory(f"{config['demo']['out']}/image_folder"),
            image_folder_truth=f"{config['demo']['out']}/image_folder_truth.json",
        log:
            "logs/demo_data.log",
        conda:
            "../../envs/demo.yaml"
        params:
            out=folder_of("output.bedroom_truth"),
            seed=config["demo"]["seed"],
            bedroom_entries=config["demo"]["bedroom_entries"],
            web_images=config["demo"]["web_images"],
            folder_images=config["demo"]["folder_images"],
        shell:
            "python -m dcgan demo-data --out {params.out:q} --seed {params.seed}"
            " --bedroom-entries {params.bedroom_entries} --web-images {params.web_images}"
            " --folder-images {params.folder_images} 2> {log:q}"
