"""`load_checkpoint`: weights_only loading, clear errors for bad files, exact model matching, wrapper prefixes."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

from medical_imaging_framework.checkpoints.atomic import write_checkpoint
from medical_imaging_framework.checkpoints.files import (
    CheckpointError,
    apply_model_state,
    load_checkpoint,
    strip_wrapper_prefixes,
)
from medical_imaging_framework.checkpoints.state import build_checkpoint
from medical_imaging_framework.training.loop import TrainingState
from tests.support.hostile_files import CodePayload


class Net(nn.Module):
    def __init__(self, hidden: int = 4) -> None:
        super().__init__()
        self.encoder = nn.Linear(3, hidden)
        self.head = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.encoder(x)))


def trained_state(model: nn.Module | None = None) -> TrainingState:
    torch.manual_seed(0)
    model = model or Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(5, 3)).sum().backward()
    optimizer.step()
    state = TrainingState(model=model, optimizer=optimizer, epoch=1, epoch_losses=[0.5])
    return state


def save(tmp_path: Path, name: str = "ckpt.pt", model: nn.Module | None = None) -> Path:
    state = trained_state(model)
    path = tmp_path / name
    write_checkpoint(build_checkpoint(state, 0.5, None, {"seed": 0}, {"nodes": []}), path)
    return path


def test_round_trip_restores_model_and_optimizer(tmp_path: Path) -> None:
    path = save(tmp_path)
    original = torch.load(path)["model_state_dict"]
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.5)
    checkpoint = load_checkpoint(path, model=model, optimizer=optimizer, map_location="cpu")
    assert checkpoint["epoch"] == 1 and checkpoint["loss"] == 0.5
    for key, value in model.state_dict().items():
        assert torch.equal(value, original[key])
    assert optimizer.param_groups[0]["lr"] == 0.01
    assert len(optimizer.state) == 4, "Adam moments restored for every parameter"


def test_missing_empty_directory_and_truncated_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"no such file") as caught:
        load_checkpoint(tmp_path / "nope.pt")
    assert "nope.pt" in str(caught.value)
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty.pt: the file is empty"):
        load_checkpoint(tmp_path / "empty.pt")
    with pytest.raises(CheckpointError, match=r"is a directory"):
        load_checkpoint(tmp_path)
    good = save(tmp_path).read_bytes()
    for cut in (len(good) // 2, len(good) - 10, 100):
        (tmp_path / "cut.pt").write_bytes(good[:cut])
        with pytest.raises(CheckpointError, match=r"cut.pt: .*truncated or damaged"):
            load_checkpoint(tmp_path / "cut.pt")


def test_text_file_and_non_checkpoint_objects_are_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.pt").write_text("hello, this is not a checkpoint")
    with pytest.raises(CheckpointError, match=r"notes.pt: not a PyTorch checkpoint"):
        load_checkpoint(tmp_path / "notes.pt")
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    with pytest.raises(CheckpointError, match=r"tensor.pt: not a checkpoint \(it holds a Tensor"):
        load_checkpoint(tmp_path / "tensor.pt")
    torch.save(Net().state_dict(), tmp_path / "weights.pt")
    with pytest.raises(CheckpointError, match=r"weights.pt: not a checkpoint of this framework \(missing: epoch"):
        load_checkpoint(tmp_path / "weights.pt")


def test_the_code_payload_really_runs_when_unpickled_unsafely(tmp_path: Path) -> None:
    """The control for every "no code ran" check: with weights_only=False the payload does create its marker."""
    path, marker = tmp_path / "evil.pt", tmp_path / "marker.txt"
    torch.save({"payload": CodePayload(marker)}, path)
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_pickled_code_is_refused_and_not_run(tmp_path: Path, zip_format: bool) -> None:
    path, marker = tmp_path / "evil.pt", tmp_path / "marker.txt"
    payload = {"epoch": 1, "model_state_dict": {}, "payload": CodePayload(marker)}
    torch.save(payload, path, _use_new_zipfile_serialization=zip_format)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert "evil.pt: refused" in message and "pickled Python objects" in message and "weights_only=False" in message
    assert not marker.exists(), "the pickled code must not run"


def test_architecture_mismatch_names_missing_and_unexpected_keys(tmp_path: Path) -> None:
    path = save(tmp_path)

    class Other(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Linear(3, 4)
            self.decoder = nn.Linear(4, 2)

    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path, model=Other())
    message = str(caught.value)
    assert str(path) in message and "do not fit this model" in message
    assert "missing keys: decoder.weight, decoder.bias" in message
    assert "unexpected keys: head.weight, head.bias" in message
    with pytest.raises(CheckpointError, match=r"size mismatch: encoder.weight \(checkpoint \(4, 3\), model \(8, 3\)\)"):
        load_checkpoint(path, model=Net(hidden=8))


def test_wrapper_prefixes_are_stripped_on_save_and_looked_through_on_load(tmp_path: Path) -> None:
    wrapped = nn.DataParallel(Net())
    path = save(tmp_path, model=wrapped)
    keys = list(torch.load(path)["model_state_dict"])
    assert keys == ["encoder.weight", "encoder.bias", "head.weight", "head.bias"]
    target = nn.DataParallel(Net())
    load_checkpoint(path, model=target)
    assert torch.equal(target.module.head.weight, torch.load(path)["model_state_dict"]["head.weight"])
    prefixed = {f"_orig_mod.module.{key}": value for key, value in Net().state_dict().items()}
    assert list(strip_wrapper_prefixes(prefixed)) == keys
    apply_model_state(Net(), prefixed)
    assert list(strip_wrapper_prefixes({"module.a": 1, "b": 2})) == ["module.a", "b"], "only shared prefixes go"


def test_compiled_model_state_has_no_orig_mod_prefix(tmp_path: Path) -> None:
    state = trained_state()
    state.model = torch.compile(state.model)  # wraps lazily: nothing is compiled until it is called
    assert all(key.startswith("_orig_mod.") for key in state.model.state_dict())
    path = tmp_path / "compiled.pt"
    write_checkpoint(build_checkpoint(state, 0.5, None, {}, {}), path)
    assert list(torch.load(path)["model_state_dict"]) == ["encoder.weight", "encoder.bias", "head.weight", "head.bias"]
    target = torch.compile(Net())
    load_checkpoint(path, model=target)
    assert torch.equal(target._orig_mod.head.bias, torch.load(path)["model_state_dict"]["head.bias"])


def test_optimizer_that_does_not_fit_is_a_clear_error(tmp_path: Path) -> None:
    path = save(tmp_path)
    model = Net()
    optimizer = torch.optim.Adam(model.encoder.parameters())
    expected = r"ckpt.pt: field 'optimizer_state_dict': the optimizer state does not fit"
    with pytest.raises(CheckpointError, match=expected):
        load_checkpoint(path, model=model, optimizer=optimizer)


def test_a_flipped_bit_in_the_weights_is_caught_by_the_checksums(tmp_path: Path) -> None:
    path = save(tmp_path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        record = next(info for info in archive.infolist() if info.filename.endswith("/data/0"))
    name_length, extra_length = struct.unpack("<HH", data[record.header_offset + 26:record.header_offset + 30])
    data[record.header_offset + 30 + name_length + extra_length] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=rf"ckpt.pt: damaged: record '{record.filename}' fails its checksum"):
        load_checkpoint(path)
