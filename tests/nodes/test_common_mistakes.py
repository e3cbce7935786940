"""Issue 19 point 6: common mistakes get one line naming the file, node or field and what to do, not a raw
``KeyError``, ``AssertionError``, MONAI collate dump or ``RuntimeError``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from medical_imaging_framework.cli.main import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "segmentation" / "TRAINING.md"


def in_doc(text: str) -> bool:
    """Whether TRAINING.md says ``text`` (line breaks read as spaces)."""
    return text in " ".join(DOC.read_text(encoding="utf-8").split())


def test_validate_names_a_csv_without_a_label_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("list.csv").write_text("image,mask\nimagesTr/a.nii.gz,labelsTr/a.nii.gz\n", encoding="utf-8")
    assert main(["validate", "decathlon_train.json", "--set", "datalist_train.path=list.csv"]) == 2
    err = capsys.readouterr().err
    assert ("node 'trainer': training needs labelled data, but the data on 'train_data' has no labels: the CSV "
            "'list.csv' has no 'label' column (its columns: 'image', 'mask'); name the column holding the label "
            "files 'label' (set by node 'datalist_train', field 'path')") in err
    assert "node 'datalist_train', field 'path': training needs labelled data" in err
    quoted = "the CSV 'list.csv' has no 'label' column (its columns: 'image', 'mask'); name the column holding"
    assert quoted in err and in_doc(quoted)  # the doc quotes what validate says


def test_validate_names_training_on_the_decathlon_test_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "decathlon_train.json", "--set", "datalist_train.key=test"]) == 2
    err = capsys.readouterr().err
    assert ("node 'datalist_train', field 'key': training needs labelled data, but the data on 'train_data' has "
            "no labels: the Decathlon 'test' list holds images without labels; set key to 'training' or "
            "'validation' to train or evaluate") in err
    quoted = "the Decathlon 'test' list holds images without labels; set key to 'training' or 'validation'"
    assert in_doc(quoted)


def test_the_training_loop_names_batches_without_labels() -> None:
    import torch

    from medical_imaging_framework.run.control import NodeError
    from medical_imaging_framework.training.loop import split_batch

    with pytest.raises(NodeError, match=r"^the batches carry no 'label' \(their keys: image, name\): training needs "
                                        "labelled data"):
        split_batch({"image": torch.zeros(1, 1, 4, 4), "name": ["a"]}, torch.device("cpu"))



def test_every_missing_file_of_a_list_is_named_at_once(tmp_path: Path) -> None:
    from medical_imaging_framework.nodes.io.datalist_specs import run_datalist
    from medical_imaging_framework.run.control import CancelToken, NodeError
    from medical_imaging_framework.run.executor import NodeContext

    listing = tmp_path / "list.csv"
    listing.write_text("image,label\na.nii.gz,la.nii.gz\nb.nii.gz,lb.nii.gz\n", encoding="utf-8")
    (tmp_path / "lb.nii.gz").write_bytes(b"")
    config = {"path": str(listing), "key": "training", "cache": True, "label_mapping": "none"}
    with pytest.raises(NodeError) as raised:
        run_datalist(NodeContext("datalist", lambda event: None, CancelToken()), {}, config)
    assert str(raised.value) == (
        f"datalist '{listing}' lists 3 files that cannot be opened: image '{tmp_path / 'a.nii.gz'}', which does not "
        f"exist; label '{tmp_path / 'la.nii.gz'}', which does not exist; image '{tmp_path / 'b.nii.gz'}', which "
        "does not exist")
    assert in_doc("every such file is named at once: `lists 3 files that cannot be opened: image")


def test_every_image_without_a_label_in_a_folder_is_named_at_once(tmp_path: Path) -> None:
    from medical_imaging_framework.nodes.io.image_folder_specs import pair_entries
    from medical_imaging_framework.run.control import NodeError

    images = {name: tmp_path / "images" / f"{name}.nii.gz" for name in ("a", "b", "c")}
    with pytest.raises(NodeError) as raised:
        pair_entries(images, {"b": tmp_path / "labels" / "b.nii.gz"})
    assert str(raised.value) == (
        "2 images have no label (expected a file of the same name, any suffix, in the labels folder): "
        f"'{images['a']}', '{images['c']}'")
    assert in_doc("an image without label (or the reverse; every such file is named at once)")


def test_mif_export_checks_the_input_size_against_the_strides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from medical_imaging_framework.core import NodeRegistry
    from tests.support.tiny import run_events, tiniest_graph

    graph = tiniest_graph(NodeRegistry(), tmp_path / "ckpt", num_epochs=1)  # UNet strides [2]: sizes divide by 2
    assert run_events(graph)[0].status == "done"
    checkpoint, output = tmp_path / "ckpt" / "final_model.pt", tmp_path / "model.onnx"
    assert main(["export", str(checkpoint), "-o", str(output), "--input-size", "15"]) == 2
    assert capsys.readouterr().err == ("error: --input-size 15: input size 15 does not divide by 2, the product of "
                                       "the network's strides (15: use 14 or 16)\n")
    assert main(["export", str(checkpoint), "-o", str(output), "--input-size", "16,15"]) == 2
    assert "input size 16x15 does not divide by 2" in capsys.readouterr().err
    assert not output.exists()


def test_export_model_node_is_checked_by_validate_and_export_names_a_failing_sample(tmp_path: Path) -> None:
    from monai.networks.nets import UNet

    from medical_imaging_framework.core import NodeRegistry
    from medical_imaging_framework.tools.export import ExportError, export_model, sample_input
    from tests.support.tiny import tiniest_graph

    graph = tiniest_graph(NodeRegistry(), "")
    graph.add_node(NodeRegistry().create("io.ExportModel", "export", path=str(tmp_path / "m.onnx"), input_size=[15]))
    graph.connect("trainer", "model", "export", "model")
    problems = [str(problem) for problem in graph.validate()]
    assert any("node 'export', field 'input_size': input size 15 does not divide by 2, the product of the network's "
               "strides (15: use 14 or 16)" in problem for problem in problems), problems
    model = UNet(spatial_dims=2, in_channels=1, out_channels=1, channels=(2, 4, 8), strides=(2, 2), num_res_units=0)
    with pytest.raises(ExportError, match=r"^the model does not run on a sample input of shape \[2, 1, 14, 14\] "
                                          r"\(RuntimeError: Sizes of tensors must match.*\); choose an input size"):
        export_model(model, tmp_path / "m.ts", "torchscript", sample_input(model, [14]))


def test_deploy_doc_quotes_the_input_size_message_of_the_default_unet() -> None:
    from medical_imaging_framework.core import NodeRegistry, load_pipeline
    from medical_imaging_framework.core.checks import input_size_problem
    from medical_imaging_framework.core.examples import resolve_pipeline_path
    from medical_imaging_framework.tools.model_builder import model_facts

    graph = load_pipeline(resolve_pipeline_path("segmentation_train.json"), NodeRegistry())
    message = input_size_problem([100], model_facts(graph, "unet"))
    doc = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
    assert message in " ".join(doc.read_text(encoding="utf-8").split())


def odd_sized_folder_graph(root: Path, sizes: list[tuple[int, int]]) -> Any:
    """The tiniest training pipeline (UNet strides [2]) on 2D NIfTI scans of ``sizes``, without padding."""
    import nibabel as nib
    import numpy as np

    from medical_imaging_framework.core import NodeRegistry
    from tests.support.tiny import tiniest_graph

    for sub in ("images", "labels"):
        (root / sub).mkdir(parents=True)
    for index, size in enumerate(sizes):
        label = np.zeros(size, np.uint8)
        label[2:8, 3:9] = 1
        nib.save(nib.Nifti1Image(label.astype(np.float32) + 0.1 * index, np.eye(4)), root / "images" / f"c{index}.nii")
        nib.save(nib.Nifti1Image(label, np.eye(4)), root / "labels" / f"c{index}.nii")
    graph = tiniest_graph(NodeRegistry(), "")
    graph.remove_node("phantoms")
    graph.add_node(NodeRegistry().create("io.ImageFolder", "folder", images_dir=str(root / "images"),
                                         labels_dir=str(root / "labels")))
    graph.connect("folder", "dataset", "split", "dataset")
    graph.nodes["split"].config["seed"] = 1
    graph.nodes["train_loader"].config.update(batch_size=1, shuffle=False)
    return graph


def test_an_odd_image_size_is_named_with_the_padding_fix_before_the_loss(tmp_path: Path) -> None:
    from tests.support.tiny import run_events

    graph = odd_sized_folder_graph(tmp_path, [(16, 16), (17, 16), (16, 16), (16, 16)])  # c1: the validation item
    result, _ = run_events(graph)
    assert result.status == "failed" and result.failed_node == "trainer"
    assert result.error == (
        "item 'c1': the model outputs size 18x16 for images and labels of size 17x16: the image size must divide "
        "by the product of the network's strides (2); add transforms.DivisiblePad with k=2 to the transforms (saved "
        "predictions are cropped back to each scan's size), or crop/resize the images to such a size")
    assert in_doc("`item 'c1': the model outputs size 18x16 for images and labels of size 17x16: … add "
                  "transforms.DivisiblePad with k=2 to the transforms …`")


def test_an_image_size_the_network_cannot_take_is_named_with_the_padding_fix(tmp_path: Path) -> None:
    """Two stride-2 levels: an 18-wide image halves to 9, then 5, and the decoder's 10 cannot meet the skip's 9.

    The network itself fails (torch's ``Sizes of tensors must match``) before any output reaches the size check.
    """
    from tests.support.tiny import run_events

    graph = odd_sized_folder_graph(tmp_path, [(16, 16), (18, 16), (16, 16), (16, 16)])  # c1: the validation item
    graph.nodes["unet"].config.update(channels=[2, 4, 8], strides=[2, 2])
    result, _ = run_events(graph)
    assert result.status == "failed" and result.failed_node == "trainer"
    assert result.error == (
        "item 'c1': the network cannot take images of size 18x16 (its levels do not line up): the image size must "
        "divide by the product of the network's strides (4); add transforms.DivisiblePad with k=4 to the "
        "transforms (saved predictions are cropped back to each scan's size), or crop/resize the images to such "
        "a size")
    assert in_doc("`item 'c1': the network cannot take images of size 18x16 (its levels do not line up): … add "
                  "transforms.DivisiblePad with k=4 to the transforms …`")


def test_evaluation_names_a_prediction_of_another_size_with_the_fix() -> None:
    import torch

    from medical_imaging_framework.nodes.evaluation.metrics import evaluate_case
    from medical_imaging_framework.run.control import NodeError

    with pytest.raises(NodeError) as raised:
        evaluate_case("c1", torch.zeros(1, 18, 16), torch.zeros(1, 17, 16), [1.0, 1.0], 2)
    assert str(raised.value) == (
        "case 'c1': label shape (17, 16) differs from prediction shape (18, 16): the image size must divide by the "
        "product of the network's strides; add transforms.DivisiblePad to the transforms, or set the Predictor's "
        "sliding_window to on")


def test_batches_of_different_sizes_are_refused_in_one_line_or_padded(tmp_path: Path) -> None:
    from tests.support.tiny import run_events

    graph = odd_sized_folder_graph(tmp_path, [(16, 16), (16, 16), (20, 16), (16, 16)])  # c1 is the validation item
    graph.nodes["train_loader"].config["batch_size"] = 3
    result, _ = run_events(graph)
    assert result.status == "failed" and result.failed_node == "trainer"
    assert result.error == (
        "data loader 'train_loader': batch_size 3 puts items of different sizes in one batch ('c0' 16x16, 'c2' "
        "20x16): set train_loader.collate to 'pad' (each batch padded to its largest item), set "
        "train_loader.batch_size to 1, or give the items one size (Pad or Crop, Resize, Random Crop)")
    refused = result.error
    graph.nodes["train_loader"].config["collate"] = "pad"
    result, _ = run_events(graph)
    assert result.status == "done", result.error
    assert in_doc("`collate` `pad` pads each batch to its largest item")
    assert in_doc(f"(`{refused.split(': set')[0]}: set train_loader.collate to 'pad' …`)")  # the doc quotes it


def test_predictions_of_pad_collated_batches_are_saved_on_each_scans_grid() -> None:
    import numpy as np
    import torch
    from monai.data import MetaTensor, decollate_batch
    from monai.data.utils import pad_list_data_collate

    from medical_imaging_framework.nodes.inference.specs import Case
    from medical_imaging_framework.nodes.io.prediction_saving import on_source_grid

    scans = [torch.arange(float(h * w)).reshape(1, h, w) for h, w in ((20, 16), (16, 18))]
    batch = pad_list_data_collate([{"image": MetaTensor(scan, affine=torch.eye(4))} for scan in scans])
    assert tuple(batch["image"].shape) == (2, 1, 20, 18)
    for scan, item in zip(scans, decollate_batch(batch), strict=True):
        grid = on_source_grid(Case("c", None, item["image"], np.eye(4)), [])
        assert torch.equal(grid.as_tensor(), scan)  # the padding cropped off, each voxel where it was


def test_a_refusal_raised_in_a_loader_worker_reaches_the_user_as_its_one_line() -> None:
    import torch
    from torch.utils.data import DataLoader

    from medical_imaging_framework.nodes.data.collate import StackCollate
    from medical_imaging_framework.run.control import NodeError, worker_message

    items = [{"image": torch.zeros(1, 16, 16), "name": "a"}, {"image": torch.zeros(1, 20, 16), "name": "b"}]
    loader = DataLoader(items, batch_size=2, num_workers=1, collate_fn=StackCollate("val_loader", 2))
    with pytest.raises(NodeError) as raised:
        next(iter(loader))
    assert "Original Traceback" in str(raised.value)  # PyTorch's wrapping of the worker's error
    assert worker_message(str(raised.value)) == (
        "data loader 'val_loader': batch_size 2 puts items of different sizes in one batch ('a' 16x16, 'b' 20x16): "
        "set val_loader.collate to 'pad' (each batch padded to its largest item), set val_loader.batch_size to 1, "
        "or give the items one size (Pad or Crop, Resize, Random Crop)")
    assert worker_message("plain") == "plain"


def test_the_predictor_names_an_image_size_the_network_cannot_take() -> None:
    """Inference without sliding windows (2D) on a scan of a size the UNet cannot halve twice: one line, the fix."""
    import torch
    from monai.networks.nets import UNet

    from medical_imaging_framework.nodes.inference.specs import run_predictor
    from medical_imaging_framework.run.control import CancelToken, NodeError
    from medical_imaging_framework.run.executor import NodeContext

    torch.manual_seed(0)
    model = UNet(spatial_dims=2, in_channels=1, out_channels=2, channels=(2, 4, 8), strides=(2, 2), num_res_units=0)
    loader = torch.utils.data.DataLoader([{"image": torch.rand(1, 18, 16), "name": "scan_7"}], batch_size=1)
    ctx = NodeContext("predictor", lambda event: None, CancelToken())
    config = {"threshold": 0.5, "sliding_window": "off", "roi_size": [16, 16], "overlap": 0.25, "sw_batch_size": 1,
              "device": "cpu"}
    with pytest.raises(NodeError) as caught:
        run_predictor(ctx, {"model": model, "data": loader}, config)
    assert str(caught.value) == (
        "item 'scan_7': the network cannot take images of size 18x16 (its levels do not line up): the image size "
        "must divide by the product of the network's strides (4); add transforms.DivisiblePad with k=4 to the "
        "transforms (saved predictions are cropped back to each scan's size), or crop/resize the images to such "
        "a size")
