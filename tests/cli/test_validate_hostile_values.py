"""Issue 9 fault 6 and fault 4 (validate half): hostile values in a pipeline file or on `--set` are
refused by `mif validate` with exit 2 naming node and field, and nothing from the file reaches the
terminal unescaped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medical_imaging_framework.cli.main import EXIT_INVALID, main
from tests.support.pipelines import DEFAULT_PIPELINE


def _pipeline_with(tmp_path: Path, node_id: str, field: str, raw_json: str) -> Path:
    """The default pipeline with ``node_id.field`` set to ``raw_json`` (JSON text, inserted as is)."""
    data = json.loads(DEFAULT_PIPELINE.read_text(encoding="utf-8"))
    for node in data["nodes"]:
        if node["id"] == node_id:
            node.setdefault("params", {})[field] = "@@VALUE@@"
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(data).replace('"@@VALUE@@"', raw_json), encoding="utf-8")
    return path


def _validate(path: Path | str, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    code = main(["validate", str(path), *extra])
    captured = capsys.readouterr()
    assert code == EXIT_INVALID, captured.out + captured.err
    assert "Traceback" not in captured.err and "run with --debug" not in captured.err
    return captured.err


@pytest.mark.parametrize(
    ("node_id", "field", "raw_json"),
    [
        ("phantoms", "count", "[" * 5000 + "]" * 5000),  # RecursionError in Python's parser
        ("unet", "channels", "[" * 3000 + "1" + "]" * 3000),
        ("phantoms", "count", "9" * 5000),  # over Python's 4,300-digit limit
        ("phantoms", "noise", "1" + "0" * 400),  # int over 1e308 in a float parameter (OverflowError)
        ("phantoms", "noise", "1e400"),
        ("phantoms", "noise", "NaN"),
        ("adam", "lr", "Infinity"),
        ("trainer", "seed", "4294967296"),
        ("train_loader", "batch_size", str(10**23)),
        ("split", "val_fraction", "0"),
        ("split", "val_fraction", "1"),
        ("trainer", "checkpoint_dir", json.dumps("runs/" + "x" * 300)),  # File name too long
        ("trainer", "checkpoint_dir", json.dumps("ck\0pt")),  # NUL byte
        ("trainer", "resume_from", json.dumps("a\0b.pt")),
        ("trainer", "resume_from", json.dumps("\ud800.pt")),  # lone surrogate: cannot be saved as UTF-8
    ],
    ids=["deep-count", "deep-channels", "4301-digits", "over-1e308", "1e400", "nan", "infinity", "seed-2^32",
         "batch-1e23", "val-0", "val-1", "long-name", "nul-dir", "nul-path", "surrogate"],
)
def test_hostile_value_in_file_names_node_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], node_id: str, field: str, raw_json: str
) -> None:
    err = _validate(_pipeline_with(tmp_path, node_id, field, raw_json), capsys)
    assert f"node '{node_id}', field '{field}'" in err
    assert len(err) < 2000  # a huge value is shown cut, not printed whole


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ("trainer.seed=4294967296", "node 'trainer', field 'seed'"),
        (f"train_loader.batch_size={10**23}", "node 'train_loader', field 'batch_size'"),
        (f"phantoms.count={'7' * 5000}", "node 'phantoms', field 'count'"),
        ("phantoms.noise=٣", "node 'phantoms', field 'noise'"),  # non-Latin digit
        ("phantoms.noise=1_0", "node 'phantoms', field 'noise'"),  # Python's digit separator
        ("adam.lr=nan", "node 'adam', field 'lr'"),
        ("split.val_fraction=1", "node 'split', field 'val_fraction'"),
        ("trainer.checkpoint_dir=" + "d" * 300, "node 'trainer', field 'checkpoint_dir'"),
    ],
)
def test_hostile_override_names_node_and_field(
    capsys: pytest.CaptureFixture[str], override: str, where: str
) -> None:
    assert where in _validate(DEFAULT_PIPELINE, capsys, "--set", override)


def test_huge_number_in_position_names_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(DEFAULT_PIPELINE.read_text(encoding="utf-8"))
    path = tmp_path / "pos.json"
    path.write_text(json.dumps(data).replace('"position": [0, 150]', '"position": [1' + "0" * 400 + ", 150]"))
    assert "node 'phantoms', field 'position'" in _validate(path, capsys)


@pytest.mark.parametrize("text", ["[" * 100000, "{\"a\": " * 50000])
def test_unclosed_deep_nesting_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 text: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text(text, encoding="utf-8")
    assert "not valid JSON" in _validate(path, capsys)


def test_validate_escapes_control_characters_from_the_file(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    osc, csi = "\x1b]0;pwned\x07", "\x1b[2J"
    data = json.loads(DEFAULT_PIPELINE.read_text(encoding="utf-8"))
    data["nodes"][0]["params"][f"count{osc}"] = 3  # unknown parameter name
    data["nodes"][1]["params"]["val_fraction"] = f"0.2{csi}"  # bad value
    data["nodes"].append({"id": "x", "type": f"data.Evil{osc}", "params": {}})  # unknown type
    data["links"].append({"from": f"phantoms.data{csi}", "to": "split.dataset"})  # unknown port
    path = tmp_path / "escape.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    err = _validate(path, capsys)
    assert "\x1b" not in err and "\x07" not in err
    assert "\\x1b]0;pwned\\x07" in err

    data["nodes"].pop()
    path.write_text(json.dumps(data), encoding="utf-8")
    err = _validate(path, capsys)
    assert "\x1b" not in err and "\x07" not in err
    assert "field 'count\\x1b]0;pwned\\x07'" in err and "0.2\\x1b[2J" in err and "data\\x1b[2J" in err
