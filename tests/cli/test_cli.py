"""`mif` command line: exit codes, clear messages for every kind of bad input, no tracebacks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry, save_pipeline
from tests.support.pipelines import DEFAULT_PIPELINE, make_tiny_graph

ROOT = Path(__file__).resolve().parents[2]


def _default() -> dict[str, Any]:
    return json.loads(DEFAULT_PIPELINE.read_text())


def _write(tmp_path: Path, data: dict[str, Any] | str) -> Path:
    path = tmp_path / "pipeline.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def _node(data: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in data["nodes"] if n["id"] == node_id)


def _unknown_type(data: dict[str, Any]) -> None:
    _node(data, "adam")["type"] = "optim.Adamax"


def _unknown_param(data: dict[str, Any]) -> None:
    _node(data, "trainer")["params"]["epochz"] = 3


def _wrong_type(data: dict[str, Any]) -> None:
    _node(data, "trainer")["params"]["num_epochs"] = "many"


def _kind_mismatch(data: dict[str, Any]) -> None:
    link = next(ln for ln in data["links"] if ln["to"] == "trainer.train_data")
    link["from"] = "split.train"


def _cycle(data: dict[str, Any]) -> None:
    data["nodes"].append({"id": "split2", "type": "data.TrainValSplit", "params": {}})
    data["links"] = [ln for ln in data["links"] if ln["to"] != "split.dataset"]
    data["links"] += [{"from": "split.train", "to": "split2.dataset"}, {"from": "split2.val", "to": "split.dataset"}]


def _unlinked(data: dict[str, Any]) -> None:
    data["links"] = [ln for ln in data["links"] if ln["to"] != "trainer.loss"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_unknown_type, "node 'adam': unknown node type 'optim.Adamax'"),
        (_unknown_param, "node 'trainer', field 'epochz': unknown parameter for training.Trainer"),
        (_wrong_type, "node 'trainer', field 'num_epochs': must be a whole number >= 1 (got 'many')"),
        (_kind_mismatch, "node 'trainer': split.train -> trainer.train_data: cannot link Dataset output to DataLoader"),
        (_cycle, "the pipeline has a cycle through: split, split2"),
        (_unlinked, "node 'trainer': required input 'loss' (Loss) is not linked"),
    ],
    ids=["unknown-type", "unknown-param", "wrong-type", "kind-mismatch", "cycle", "unlinked-input"],
)
def test_invalid_pipeline_exits_2_with_one_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate: Any, expected: str
) -> None:
    data = _default()
    mutate(data)
    path = _write(tmp_path, data)
    for command in (["run", str(path)], ["validate", str(path)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert str(path) in err and expected in err
        assert "Traceback" not in err


def test_not_json_and_missing_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "{nodes: oops")
    assert main(["run", str(path)]) == 2
    assert f"{path}: not valid JSON (line 1, column 2" in capsys.readouterr().err
    missing = tmp_path / "nowhere.json"
    assert main(["run", str(missing)]) == 2
    assert f"{missing}: file not found" in capsys.readouterr().err


def test_set_overrides_are_parsed_and_bad_ones_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(DEFAULT_PIPELINE)
    assert main(["validate", path, "--set", "trainer.num_epochs=3"]) == 0
    assert "OK (8 nodes, 8 links)" in capsys.readouterr().out
    cases = {
        "trainer.save_every_n_epochs=0": "node 'trainer', field 'save_every_n_epochs': must be a whole number >= 1",
        "nobody.lr=1": "no node 'nobody'",
        "adam.beta=1": "node 'adam', field 'beta': unknown parameter",
        "adam": "expected NODE_ID.PARAM=VALUE",
    }
    for override, expected in cases.items():
        assert main(["run", path, "--set", override]) == 2
        assert expected in capsys.readouterr().err


def test_run_prints_epoch_lines_and_exits_0(registry: NodeRegistry, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tiny.json"
    save_pipeline(make_tiny_graph(registry, ""), path)
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("Epoch [")]
    assert len(lines) == 2
    assert lines[0].startswith("Epoch [1/2], Loss: 0.") and ", Val Loss: 0." in lines[0]
    assert "\r" not in out, "no progress bar when stdout is not a terminal"


def test_failing_node_exits_1_without_traceback(registry: NodeRegistry, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # A damaged checkpoint is found only when it is read, at run time (validate checks that it is there; a
    # missing file and a bad val_fraction, the failures used here before, are now refused by validate).
    (tmp_path / "damaged.pt").write_bytes(b"not a checkpoint")
    graph = make_tiny_graph(registry, "", resume_from=str(tmp_path / "damaged.pt"))
    path = tmp_path / "tiny.json"
    save_pipeline(graph, path)
    assert main(["run", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"✗ Node 'trainer' failed: resume_from: {tmp_path / 'damaged.pt'}: " in err
    assert "Traceback" not in err
    assert main(["--debug", "run", str(path)]) == 1
    assert "Traceback" in capsys.readouterr().err
    assert main(["run", str(path), "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_nodes_lists_types_with_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nodes"]) == 0
    out = capsys.readouterr().out
    assert "training.Trainer" in out and "save_every_n_epochs = '5'" in out and "checkpoint_dir = 'checkpoints'" in out


def test_help_does_not_import_torch() -> None:
    code = "import sys\nfrom medical_imaging_framework.cli.main import main\ntry:\n    main(['--help'])\n" \
           "except SystemExit:\n    pass\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "usage: mif" in out and out.strip().endswith("False")


def test_help_imports_nothing_it_does_not_print() -> None:
    """`mif --help` builds the parser only: no torch, Qt or numpy, not the launcher (subprocess, ctypes), not
    shutil (with bz2 and lzma), which argparse would import for the terminal's width, and not pathlib (with
    fnmatch and urllib; the editable install puts the project on sys.path with a plain .pth line, no import hook
    that would import it)."""
    heavy = ("torch", "PySide6", "NodeGraphQt", "numpy", "monai", "subprocess", "ctypes", "threading", "shutil",
             "pathlib",
             "medical_imaging_framework.run.launch", "medical_imaging_framework.run.process_tree",
             "medical_imaging_framework.core")
    code = ("import contextlib, io, sys\nfrom medical_imaging_framework.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as text:\n    try:\n        main(['--help'])\n"
            "    except SystemExit:\n        pass\n"
            f"print('usage: mif' in text.getvalue(), sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True []"


def test_ctrl_c_stops_cleanly_with_exit_130(registry: NodeRegistry, tmp_path: Path) -> None:
    path = tmp_path / "long.json"
    save_pipeline(make_tiny_graph(registry, "", num_epochs=500), path)
    process = subprocess.Popen(
        [sys.executable, "-m", "medical_imaging_framework", "run", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Epoch [1/500]"):
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Training stopped at epoch" in out
    assert "Traceback" not in err


def test_validate_lists_every_problem_of_a_file_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _default()
    _node(data, "adam")["type"] = "optim.Nope"
    _node(data, "dice_loss")["type"] = "losses.Nope"
    _node(data, "trainer")["params"]["num_epochs"] = 0
    data["links"].append({"from": "ghost.out", "to": "trainer.scheduler"})
    path = _write(tmp_path, data)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: 4 problems:" in err
    for expected in ("node 'adam': unknown node type 'optim.Nope'", "node 'dice_loss': unknown node type 'losses.Nope'",
                     "links[8].from: no node 'ghost'",
                     "node 'trainer', field 'num_epochs': must be a whole number >= 1 (got '0')"):
        assert expected in err
    assert "links[3]" not in err and "links[4]" not in err, "links to nodes already reported are not repeated"


def test_validate_refuses_a_resume_from_file_that_is_not_there(
    registry: NodeRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "tiny.json"
    save_pipeline(make_tiny_graph(registry, "", resume_from="missing.pt"), path)
    assert main(["validate", str(path)]) == 2
    assert (f"node 'trainer', field 'resume_from': checkpoint file 'missing.pt' does not exist in {tmp_path}"
            in capsys.readouterr().err)
