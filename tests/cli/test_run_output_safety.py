"""What `mif run` writes is safe to show and to parse: no raw terminal escape on any line (text or the human
stream of ``--events jsonl``), and every JSON line valid UTF-8 ending with ``RunFinished``, whatever a file
name or a folder typed into the pipeline holds (issue 18, points 6 and 14)."""

from __future__ import annotations

import io
import json
import math
import sys
import unicodedata
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
import torch

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import Graph, NodeRegistry, save_pipeline
from medical_imaging_framework.run.events import NodeFailed, format_event
from tests.support.hostile_files import write_good_checkpoint
from tests.support.tiny import tiniest_graph

# OSC retitling the terminal, BEL, clear screen, a C1 control (CSI), a bidi override
HOSTILE = "ck\x1b]0;pwned\x07\x1b[2J\x9b31m\u202edir"


def _raw_controls(text: str) -> list[str]:
    """The characters of ``text`` a terminal could act on (newlines are ours)."""
    unsafe = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}  # controls, format (bidi), separators, surrogates
    return sorted({char for char in text if char != "\n" and unicodedata.category(char) in unsafe})


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_a_hostile_checkpoint_dir_is_printed_escaped(registry: NodeRegistry, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / HOSTILE
    path = tmp_path / "p.json"
    save_pipeline(tiniest_graph(registry, folder, num_epochs=1), path)
    assert main(["validate", str(path)]) == 0  # a legal folder name: validate passes it
    capsys.readouterr()
    assert main(["run", str(path)]) == 0
    out, err = capsys.readouterr()
    assert not _raw_controls(out + err), (out + err)[-2000:]
    assert "ck\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202edir" in out
    assert "Checkpoints will be saved to:" in out and "Training complete." in out
    assert (folder / "final_model.pt").is_file()

    # a used folder now: the warning quotes it too (--no-cache: a fresh run, not the first one's training reused)
    assert main(["run", str(path), "--events", "jsonl", "--no-cache"]) == 0
    out, err = capsys.readouterr()
    assert not _raw_controls(out + err), (out + err)[-2000:]
    assert "warning: checkpoint folder '" in err and "\\x1b]0;pwned" in err
    events = _json_lines(out)
    configured = next(event for event in events if event["type"] == "CheckpointsConfigured")
    assert configured["directory"] == str(folder)  # escaped in the JSON text, exact once parsed
    assert events[-1]["type"] == "RunFinished" and events[-1]["status"] == "done"


def test_nan_tensor_names_of_a_resume_error_are_printed_escaped(registry: NodeRegistry, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.pt"
    write_good_checkpoint(registry, good)
    data = torch.load(good, weights_only=True)
    data["model_state_dict"] = {f"w\x1b]0;{index}\x07": torch.full((2,), math.nan) for index in range(2)}
    hostile = tmp_path / "nan\x1b[2J.pt"
    torch.save(data, hostile)
    path = tmp_path / "p.json"
    save_pipeline(tiniest_graph(registry, tmp_path / "ck", resume_from=str(hostile)), path)
    for mode in ("text", "jsonl"):
        assert main(["run", str(path), "--events", mode]) == 1
        out, err = capsys.readouterr()
        assert not _raw_controls(out + err), (out + err)[-2000:]
        assert "'w\\x1b]0;0\\x07'" in err and "NaN or infinite" in err and "nan\\x1b[2J.pt" in err


def test_every_event_line_and_the_editors_log_escape_alike(qtbot: Any) -> None:
    from medical_imaging_framework.app.widgets.panels import LogPane
    from medical_imaging_framework.cli.commands import ConsolePrinter

    event = NodeFailed("trainer", f"cannot read '{HOSTILE}'\nsecond line", traceback="Traceback\n  \x1b[2J")
    line = format_event(event)
    assert line is not None and not _raw_controls(line) and line.endswith("\nsecond line")
    pane = LogPane()
    qtbot.addWidget(pane)
    pane.append(line)
    pane.append(f"warning: {HOSTILE}")  # a line from anywhere else (a plugin's message)
    assert not _raw_controls("\n".join(pane.lines()))
    assert pane.lines()[:2] == line.split("\n")
    stdout, stderr = io.StringIO(), io.StringIO()
    printer = ConsolePrinter(stdout, debug=True)
    saved = sys.stderr
    sys.stderr = stderr
    try:
        printer(event)
    finally:
        sys.stderr = saved
    assert not _raw_controls(stderr.getvalue()) and "\\x1b[2J" in stderr.getvalue()


def _folder_with_a_non_utf8_name(tmp_path: Path) -> tuple[Path, Path]:
    """Two good 16x16 NIfTI pairs and one unreadable pair named with the byte 0xff (not UTF-8)."""
    images, labels = tmp_path / "im", tmp_path / "lb"
    images.mkdir()
    labels.mkdir()
    rng = np.random.default_rng(0)
    for index in range(2):
        nib.save(nib.Nifti1Image(rng.random((16, 16)).astype(np.float32), np.eye(4)), images / f"c{index}.nii.gz")
        nib.save(nib.Nifti1Image((rng.random((16, 16)) > 0.5).astype(np.uint8), np.eye(4)), labels / f"c{index}.nii.gz")
    for folder in (images, labels):
        with open(bytes(folder) + b"/c9\xff\x1b[2J.nii.gz", "wb") as handle:
            handle.write(b"not a gzip file")
    return images, labels


@pytest.mark.parametrize("errors", ["strict", "surrogateescape"])
def test_jsonl_with_a_non_utf8_file_name_is_valid_utf8_and_ends_with_run_finished(
        registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        errors: str) -> None:
    images, labels = _folder_with_a_non_utf8_name(tmp_path)
    graph = Graph("folder")
    graph.add_node(registry.create("io.ImageFolder", "image_folder", images_dir=str(images), labels_dir=str(labels)))
    path = tmp_path / "p.json"
    save_pipeline(graph, path)
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors=errors)  # as PYTHONIOENCODING would set
    monkeypatch.setattr(sys, "stdout", stdout)
    assert main(["run", str(path), "--events", "jsonl"]) == 1
    stdout.flush()
    lines = stdout.buffer.getvalue().decode("utf-8").splitlines()  # strict: raises on an invalid byte
    events = [json.loads(line) for line in lines]
    assert [event["type"] for event in events][-2:] == ["NodeFailed", "RunFinished"]
    assert events[-1]["status"] == "failed"
    message = events[-2]["message"]  # the exact name for a Python reader, or escaped where it was made
    assert "c9\udcff\x1b[2J.nii.gz" in message or "c9\\udcff\\x1b[2J.nii.gz" in message
    assert not _raw_controls("\n".join(lines))
    err = capsys.readouterr().err
    assert not _raw_controls(err) and "c9\\udcff\\x1b[2J.nii.gz" in err and "UnicodeEncodeError" not in err
