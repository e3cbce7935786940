"""The tiniest train + predict + evaluate pipeline, in 2D or 3D: 6 phantoms of 16 px (3 evaluated), one epoch."""

from __future__ import annotations

from pathlib import Path

from medical_imaging_framework.core import Graph, NodeRegistry, load_pipeline, save_pipeline

PIPELINE_3D = (Path(__file__).resolve().parents[2] / "medical_imaging_framework" / "resources" / "pipelines"
               / "segmentation_train_3d.json")


def evaluated_graph(registry: NodeRegistry, folder: Path, spatial_dims: int, class_names: str = "") -> Graph:
    """The 3D example shrunk (and made 2D when asked): checkpoints and evaluation.csv go to ``folder/ckpt``.

    Args:
        registry: node types.
        folder: the working folder.
        spatial_dims: 2 or 3.
        class_names: the evaluation's class names; three names make the UNet predict three classes.
    """
    graph = load_pipeline(PIPELINE_3D, registry)
    settings = {
        "phantoms": {"count": 6, "size": 16, "spatial_dims": str(spatial_dims)},
        "split": {"val_fraction": 0.5},
        "unet": {"spatial_dims": str(spatial_dims), "channels": [2, 4], "strides": [2], "num_res_units": 0},
        "cosine_lr": {"t_max": 1},
        "trainer": {"num_epochs": 1, "device": "cpu", "checkpoint_dir": str(folder / "ckpt"),
                    "save_every_n_epochs": 1},
        "predictor": {"device": "cpu", "sliding_window": "off", "roi_size": [16] * spatial_dims},
        "evaluate": {"class_names": class_names},
    }
    if class_names:
        settings["unet"]["out_channels"] = len(class_names.split(","))
    for node_id, values in settings.items():
        graph.nodes[node_id].config.update(values)
    return graph


def write_evaluated_pipeline(registry: NodeRegistry, folder: Path, spatial_dims: int, class_names: str = "") -> Path:
    """Save `evaluated_graph` to ``folder/evaluated_<n>d.json``; returns the file."""
    path = folder / f"evaluated_{spatial_dims}d.json"
    save_pipeline(evaluated_graph(registry, folder, spatial_dims, class_names), path)
    return path
