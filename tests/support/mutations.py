"""Single-parameter mutations of the bundled example pipelines that make `mif run` fail.

Each entry is ``(node_id, field, value as typed after --set)``; `mif validate` must refuse each with
exit 2, naming that node and field. Every entry was checked once to fail at run time without validation
(see docs/reliability.md, "Fuzzed pipeline files"), with tiny phantom sets so the check takes minutes.
"""

from __future__ import annotations

LONG_NAME = "c" * 300
NUL_PATH = "ckpt\0dir"

COMMON_TRAIN = [
    ("split", "val_fraction", "0"),
    ("split", "val_fraction", "1"),
    ("unet", "channels", "16"),
    ("unet", "strides", "2,2"),
    ("trainer", "seed", "4294967296"),
    ("train_loader", "batch_size", str(10**23)),
    ("trainer", "checkpoint_dir", LONG_NAME),
    ("trainer", "checkpoint_dir", NUL_PATH),
    ("trainer", "num_epochs", "0"),
]

MUTATIONS: dict[str, list[tuple[str, str, str]]] = {
    "segmentation_train.json": [
        *COMMON_TRAIN,
        ("phantoms", "size", "36"),
        ("phantoms", "size", "8"),
        ("phantoms", "count", "2"),
        ("split", "val_fraction", "0.999"),
        ("unet", "strides", "3,3,3"),
        ("unet", "spatial_dims", "3"),
        ("phantoms", "spatial_dims", "3"),
        ("unet", "in_channels", "3"),
        ("unet", "out_channels", "2"),
        ("dice_loss", "softmax", "true"),
        ("trainer", "resume_from", NUL_PATH),
        ("adam", "lr", "-0.1"),
    ],
    "segmentation_train_3d.json": [
        *COMMON_TRAIN,
        ("predictor", "roi_size", "64,64"),
        ("predictor", "roi_size", "36,36,36"),
        ("phantoms", "size", "36"),
        ("phantoms", "count", "2"),
        ("unet", "spatial_dims", "2"),
        ("phantoms", "spatial_dims", "2"),
        ("unet", "in_channels", "2"),
        ("dice_ce_loss", "mode", "softmax"),
        ("unet", "strides", "2,2,3"),
        ("val_loader", "batch_size", str(10**23)),
        ("cosine_lr", "t_max", "0"),
    ],
    "segmentation_infer.json": [
        ("phantoms", "size", "36"),
        ("phantoms", "size", "8"),
        ("phantoms", "count", "2"),
        ("split", "val_fraction", "0"),
        ("split", "val_fraction", "1"),
        ("unet", "channels", "16"),
        ("unet", "strides", "2,2"),
        ("unet", "strides", "3,3,3"),
        ("unet", "spatial_dims", "3"),
        ("phantoms", "spatial_dims", "3"),
        ("predictor", "sliding_window", "on"),
        ("val_loader", "batch_size", str(10**23)),
        ("load_checkpoint", "path", NUL_PATH),
        ("load_checkpoint", "path", LONG_NAME),
        ("load_checkpoint", "path", ""),
        ("predictor", "threshold", "2"),
    ],
    "nifti_folder_train.json": [
        *COMMON_TRAIN,
        ("unet", "spatial_dims", "2"),
        ("random_crop", "roi_size", "96,96"),
        ("random_crop", "roi_size", "96,96,96,96"),
        ("predictor", "roi_size", "96,96"),
        ("predictor", "roi_size", "36,36,36"),
        ("image_folder", "labels_dir", ""),
        ("dice_ce_loss", "mode", "softmax"),
        ("split", "val_fraction", "1.5"),
    ],
}
