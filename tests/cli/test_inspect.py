"""`mif inspect FILE`: epoch, loss, the loss curve in brief, versions, and whether the file is intact."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest
import torch

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.executor import Executor
from tests.support.pipelines import make_tiny_graph


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("inspect")
    graph = make_tiny_graph(NodeRegistry(), folder, num_epochs=3, save_every_n_epochs=1)
    assert Executor(graph).run().status == "done"
    return folder


def test_inspect_describes_a_good_checkpoint(checkpoints: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = checkpoints / "final_model.pt"
    saved = torch.load(path)
    assert main(["inspect", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"Checkpoint: {path} (")
    assert "Epoch: 3" in lines and "Format version: 1" in lines
    assert f"Loss: {saved['loss']:.4f} (validation loss)" in lines
    train = saved["epoch_losses"]
    low = min(range(3), key=lambda index: train[index])
    assert (f"Training loss (3 epochs): first {train[0]:.4f}, last {train[-1]:.4f}, "
            f"min {train[low]:.4f} at epoch {low + 1}") in lines
    curve = lines[lines.index(next(line for line in lines if line.startswith("Training loss"))) + 1]
    assert len(curve.strip()) == 3 and set(curve.strip()) <= set("▁▂▃▄▅▆▇█")
    assert any(line.startswith("Validation loss (3 epochs): ") for line in lines)
    versions = next(line for line in lines if line.startswith("Saved with: "))
    assert f"torch {torch.__version__}" in versions and "monai " in versions
    assert "medical_imaging_framework " in versions
    assert "Also holds: RNG state (python, numpy, torch)" in lines
    assert lines[-1].startswith("Intact: yes (all ") and "pass their checksums" in lines[-1]


def flip_middle_byte(data: bytes, record: zipfile.ZipInfo) -> bytes:
    """``data`` with one bit pattern inverted in the middle of a zip record's stored bytes."""
    name_length, extra_length = struct.unpack("<HH", data[record.header_offset + 26:record.header_offset + 30])
    changed = bytearray(data)
    changed[record.header_offset + 30 + name_length + extra_length + record.file_size // 2] ^= 0xFF
    return bytes(changed)


def test_inspect_reports_damage_with_exit_2(checkpoints: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    data = (checkpoints / "checkpoint_epoch_2.pt").read_bytes()
    with zipfile.ZipFile(checkpoints / "checkpoint_epoch_2.pt") as archive:
        records = archive.infolist()
    tensor = max((info for info in records if "/data/" in info.filename), key=lambda info: info.file_size)
    pickle = next(info for info in records if info.filename.endswith("data.pkl"))
    cases = {
        "flipped.pt": (flip_middle_byte(data, tensor), f"damaged: record '{tensor.filename}' fails its checksum"),
        "flipped_pickle.pt": (flip_middle_byte(data, pickle), f"damaged: record '{pickle.filename}' fails its"),
        "truncated.pt": (data[: len(data) * 2 // 3], "truncated or damaged"),
        "text.pt": (b"just some text", "not a PyTorch checkpoint"),
    }
    for name, (content, expected) in cases.items():
        (tmp_path / name).write_bytes(content)
        assert main(["inspect", str(tmp_path / name)]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith(f"error: {tmp_path / name}: ") and expected in err, err
        assert "Traceback" not in err
    assert main(["inspect", str(tmp_path / "missing.pt")]) == 2
    assert f"error: {tmp_path / 'missing.pt'}: no such file" in capsys.readouterr().err


def test_inspect_refuses_pickled_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "untrusted.pt"
    torch.save({"epoch": 1, "hook": Path("x")}, path)  # a Path object is pickled as a class: not weights-only
    assert main(["inspect", str(path)]) == 2
    assert "refused: the file holds pickled Python objects" in capsys.readouterr().err


def test_inspect_reads_a_legacy_non_zip_checkpoint(checkpoints: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    legacy = tmp_path / "legacy.pt"
    torch.save(torch.load(checkpoints / "best_model.pt"), legacy, _use_new_zipfile_serialization=False)
    assert not zipfile.is_zipfile(legacy)
    assert main(["inspect", str(legacy)]) == 0
    out = capsys.readouterr().out
    assert "Epoch: " in out and "Intact: yes (legacy non-zip format" in out


def test_inspect_escapes_control_characters_from_the_file(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from torch import nn

    from medical_imaging_framework.checkpoints.atomic import write_checkpoint
    from medical_imaging_framework.checkpoints.state import build_checkpoint
    from medical_imaging_framework.training.loop import TrainingState

    model = nn.Linear(2, 1)
    state = TrainingState(model, torch.optim.SGD(model.parameters(), lr=0.1), epoch=1, epoch_losses=[0.5])
    config = {
        "title": "\x1b]0;pwned\x07",  # OSC: set the terminal title
        "clear": "\x1b[2J\x1b[H",  # CSI: clear the screen
        "forged": "x\r\nIntact: yes (all 1 records pass their checksums; loads with weights_only=True)",
        "bidi\u202e": "\x9b31m",  # a right-to-left override in a key, a C1 CSI in a value
    }
    path = tmp_path / "evil\x1b[31m.pt"  # a control sequence in the file name, too
    write_checkpoint(build_checkpoint(state, 0.5, None, config, {"nodes": []}), path)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert not any(char in out for char in "\x1b\x07\r\x9b\u202e"), repr(out)
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("Intact:")] == [lines[-1]]
    assert lines[0].startswith("Checkpoint: ") and "evil\\x1b[31m.pt" in lines[0]
    settings = next(line for line in lines if line.startswith("Trainer settings: "))
    assert "title=\\x1b]0;pwned\\x07" in settings and "clear=\\x1b[2J\\x1b[H" in settings
    assert "forged=x\\x0d\\x0aIntact: yes" in settings and "bidi\\u202e=\\x9b31m" in settings
    path.write_bytes(b"")
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "evil\\x1b[31m.pt: the file is empty" in err
