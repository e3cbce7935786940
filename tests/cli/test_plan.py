"""`mif plan`: two pipeline files with a reason beside each node; end to end, plan -> validate -> train -> predict."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry
from tests.support.plan_data import write_dataset

SHAPES = [(24, 20, 8), (20, 24, 8), (24, 24, 6), (28, 20, 8)]


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A tiny anisotropic CT dataset planned once for this module: (dataset.json, plan folder, stdout)."""
    root = tmp_path_factory.mktemp("plan")
    dataset = write_dataset(root / "ds", SHAPES)
    out = root / "plan"
    stream = io.StringIO()
    with contextlib.redirect_stdout(stream):
        code = main(["plan", str(dataset), "--out", str(out), "--device", "cpu", "--memory-gb", "1",
                     "--time-budget", "0.0001", "--explain"])
    assert code == 0, stream.getvalue()
    return dataset, out, stream.getvalue()


def _nodes(path: Path) -> dict[str, dict[str, Any]]:
    return {node["id"]: node for node in json.loads(path.read_text())["nodes"]}


def test_plan_writes_both_pipelines_with_a_note_of_the_reason_beside_each_node(
        planned: tuple[Path, Path, str]) -> None:
    dataset, out, printed = planned
    for name in ("plan_train.json", "plan_infer.json"):
        data = json.loads((out / name).read_text())
        notes = {(a["x"], a["title"]) for a in data["annotations"]}
        assert len(notes) == len(data["nodes"])  # one note per planned node, above it, in its column
        assert {node["position"][0] for node in data["nodes"]} == {x for x, _ in notes}
        assert all(a["text"] and a["y"] < node["position"][1] for a, node
                   in zip(data["annotations"], data["nodes"], strict=True))
    train, infer = _nodes(out / "plan_train.json"), _nodes(out / "plan_infer.json")
    assert train["spacing"]["params"]["pixdim"] == pytest.approx([0.8, 0.8, 2.5])
    patch = train["patch_crop"]["params"]["spatial_size"]
    predictor = infer["predictor"]["params"]
    assert predictor["roi_size"] == patch and predictor["blend_mode"] == "gaussian"
    assert train["normalize"]["type"] == infer["normalize"]["type"] == "transforms.ClipZScore"
    assert train["trainer"]["params"]["num_epochs"] == 1  # 0.0001 minutes (6 ms): less than one step, so one epoch
    assert train["loss"]["params"]["mode"] == "softmax" and train["unet"]["params"]["out_channels"] == 3
    assert infer["dataset"]["params"] == {**infer["dataset"]["params"], "path": str(dataset), "key": "test"}
    assert json.loads((out / "fingerprint.json").read_text())["read_count"] == 4
    assert printed.count("because") == len(printed.splitlines()) // 2 - 1 and "target spacing" in printed


def test_the_planned_pipelines_validate_train_and_predict_on_each_source_grid(
        planned: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    registry = NodeRegistry()
    types = {node["type"] for name in ("plan_train.json", "plan_infer.json")
             for node in json.loads((planned[1] / name).read_text())["nodes"]}
    missing = sorted(t for t in types if t not in registry)
    if missing:
        pytest.skip(f"the planned node types {', '.join(missing)} are not in the registry yet (issue 22 point 1, "
                    "branch i22-nodes)")
    import nibabel as nib
    import numpy as np

    dataset, out, _ = planned
    for name in ("plan_train.json", "plan_infer.json"):
        assert main(["validate", str(out / name)]) == 0, capsys.readouterr().err
    assert main(["run", str(out / "plan_train.json")]) == 0, capsys.readouterr().err
    assert (out / "checkpoints" / "best_model.pt").is_file()
    assert main(["run", str(out / "plan_infer.json")]) == 0, capsys.readouterr().err
    predictions = sorted((out / "predictions").iterdir())
    source = nib.load(str(dataset.parent / "imagesTs" / "test_00.nii.gz"))
    assert len(predictions) == 1
    saved = nib.load(str(predictions[0]))
    assert saved.shape[:3] == source.shape and np.allclose(saved.affine, source.affine, atol=1e-4)


def test_a_2d_dataset_is_refused_in_one_line_naming_the_rule(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import nibabel as nib
    import numpy as np

    for folder in ("imagesTr", "labelsTr"):
        (tmp_path / "ds" / folder).mkdir(parents=True)
    for index in range(2):
        for folder, values in (("imagesTr", np.ones((16, 16), np.float32)), ("labelsTr", np.eye(16, dtype=np.uint8))):
            nib.save(nib.Nifti1Image(values, np.eye(4)), tmp_path / "ds" / folder / f"c{index}.nii.gz")

    assert main(["plan", str(tmp_path / "ds"), "--out", str(tmp_path / "plan")]) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("Reading cases")]
    assert err == [f"error: dataset '{tmp_path / 'ds'}' holds 2D images (e.g. "
                   f"'{tmp_path / 'ds' / 'imagesTr' / 'c0.nii.gz'}': 16 x 16); mif plan plans 3D datasets"], \
        "one line, naming a file, and no 'Measuring...' before it"

    assert (tmp_path / "plan" / "fingerprint.json").is_file() and not (tmp_path / "plan" / "plan_train.json").exists()
