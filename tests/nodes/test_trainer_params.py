"""The Trainer's checkpoint parameters: defaults, and bad values refused before training starts
(the CLI's --set, pipeline files, and `Param.parse`, which the GUI dialog uses)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry, ParamError, ParamKind
from tests.support.pipelines import DEFAULT_PIPELINE

BAD_EVERY = ["0", "-1", "2.5", "abc", ""]


def test_trainer_declares_the_documented_parameters(registry: NodeRegistry) -> None:
    spec = registry.get("training.Trainer")
    expected = {
        "checkpoint_dir": (ParamKind.PATH, "checkpoints"),
        "save_every_n_epochs": (ParamKind.INT, 5),
        "resume_from": (ParamKind.PATH, ""),
        "keep_last_n": (ParamKind.INT, 0),
        "stop_on_checkpoint_error": (ParamKind.BOOL, False),
    }
    for name, (kind, default) in expected.items():
        param = spec.param(name)
        assert param is not None and (param.kind, param.default) == (kind, default), name


@pytest.mark.parametrize("value", BAD_EVERY)
def test_bad_save_every_is_refused_by_the_parameter(registry: NodeRegistry, value: str) -> None:
    param = registry.get("training.Trainer").param("save_every_n_epochs")
    with pytest.raises(ParamError) as caught:
        param.parse(value, "trainer")
    assert str(caught.value) == f"node 'trainer', field 'save_every_n_epochs': must be a whole number >= 1 " \
                                f"(got '{value}')"


@pytest.mark.parametrize("value", BAD_EVERY)
def test_cli_refuses_bad_save_every_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str], value: str) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(DEFAULT_PIPELINE), "--set", f"trainer.save_every_n_epochs={value}"]) == 2
    captured = capsys.readouterr()
    assert f"--set trainer.save_every_n_epochs={value}: node 'trainer', field 'save_every_n_epochs': " \
           f"must be a whole number >= 1 (got '{value}')" in captured.err
    assert "Epoch [" not in captured.out and os.listdir(tmp_path) == [], "nothing ran, nothing was written"


@pytest.mark.parametrize("value", [0, -1, 2.5, "abc", ""])
def test_pipeline_file_with_bad_save_every_is_invalid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str], value: object) -> None:
    data = json.loads(DEFAULT_PIPELINE.read_text())
    next(node for node in data["nodes"] if node["id"] == "trainer")["params"]["save_every_n_epochs"] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "node 'trainer', field 'save_every_n_epochs': must be a whole number >= 1" in err
    assert os.listdir(tmp_path) == ["bad.json"]


def test_cli_refuses_negative_keep_last_n(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DEFAULT_PIPELINE), "--set", "trainer.keep_last_n=-1"]) == 2
    assert "field 'keep_last_n': must be a whole number >= 0 (got '-1')" in capsys.readouterr().err
