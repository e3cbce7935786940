"""docs/training/CHECKPOINTS.md is true to the code: its Python snippets run, in order, against checkpoints
from a real (shrunk) run, and its output examples are exactly what `format_event` prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from medical_imaging_framework.run.events import (
    CheckpointFailed,
    CheckpointSaved,
    CheckpointsConfigured,
    EpochEnded,
    Event,
    TrainingCompleted,
    TrainingResumed,
    TrainingStopped,
    format_event,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "training" / "CHECKPOINTS.md"
NUMBER = r"\d+(?:\.\d+)?"


def blocks(language: str) -> list[str]:
    """The doc's fenced code blocks of ``language``, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)


def section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_python_snippets_run_against_a_real_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snippets = blocks("python")
    assert len(snippets) >= 6
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "checkpoints_doc"}
    outputs = []
    for index, snippet in enumerate(snippets):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(snippet, f"{DOC.name} snippet {index + 1}", "exec"), namespace)
        outputs.append(out.getvalue())
    training = outputs[0].splitlines()
    assert "✓ Checkpoints will be saved to: checkpoints" in training
    assert training[-2:] == ["", "✓ Training complete. Final model saved to: checkpoints/final_model.pt"]
    printed = "\n".join(outputs)
    assert "checkpoints/checkpoint_epoch_99.pt: no such file" in printed
    assert "Intact: yes (all " in printed and "Epoch: 20" in printed
    assert "✓ Resumed from checkpoints/final_model.pt (epoch 20); continuing at epoch 21 of 25" in printed
    shown_labels = [line.split(": ")[0] for line in blocks("text")[1].splitlines() if not line.startswith(" ")]
    printed_lines = printed.splitlines()
    for label in shown_labels:  # the doc's `mif inspect` example has the lines describe_checkpoint prints
        assert any(line.startswith(f"{label}: ") for line in printed_lines), label
    # both output examples are this run's output (numbers within 0.002: thread counts change the last digit)
    assert_lines_in_order(blocks("text")[0], outputs[0].splitlines())
    inspect_lines = next(out for out in outputs if out.startswith("Checkpoint: "))
    assert_lines_in_order(blocks("text")[1], inspect_lines.splitlines(),
                          skip=("Checkpoint: ", "Saved with: ", "Intact: ", "  "))


def assert_lines_in_order(example: str, printed: list[str], skip: tuple[str, ...] = ()) -> None:
    """Every line of ``example`` (except '...' and lines starting with ``skip``) is printed, in that order."""
    position = 0
    for line in example.rstrip("\n").split("\n"):
        if line == "..." or (skip and line.startswith(skip)):
            continue
        while position < len(printed) and not same_line(line, printed[position]):
            position += 1
        similar = [shown for shown in printed if shown.split(":")[0] == line.split(":")[0]]
        assert position < len(printed), (
            f"the doc shows a line the run does not print (in order): {line!r}; the run printed: {similar}")
        position += 1


def same_line(shown: str, printed: str) -> bool:
    """Equal text, and equal numbers up to 0.002 (a run id is new in every run: any one matches)."""
    if shown.startswith("Run id: ") and printed.startswith("Run id: "):
        return True
    if re.sub(NUMBER, "#", shown) != re.sub(NUMBER, "#", printed):
        return False
    pairs = zip(re.findall(NUMBER, shown), re.findall(NUMBER, printed), strict=True)
    return all(abs(float(a) - float(b)) <= 0.002 for a, b in pairs)


def events_for(lines: list[str]) -> list[Event]:
    """Events that should print ``lines`` (the doc's example; '...' elisions skipped)."""
    patterns = [
        (r"✓ Checkpoints will be saved to: (.+)", lambda m: CheckpointsConfigured("trainer", m[1])),
        (rf"Epoch \[(\d+)/(\d+)\], Loss: ({NUMBER})(?:, Val Loss: ({NUMBER}))?",
         lambda m: EpochEnded("trainer", int(m[1]), int(m[2]), float(m[3]), float(m[4]) if m[4] else None)),
        (rf"  ✓ Saved best model \(loss: ({NUMBER})\)",
         lambda m: CheckpointSaved("trainer", "best", "checkpoints/best_model.pt", 0, float(m[1]))),
        (r"  ✓ Saved checkpoint: (.+)",
         lambda m: CheckpointSaved("trainer", "periodic", f"checkpoints/{m[1]}", 0, 0.0)),
        (r"✓ Training complete\. Final model saved to: (.+)", lambda m: TrainingCompleted("trainer", 20, m[1])),
    ]
    events: list[Event] = []
    for line in lines:
        if line in ("", "..."):
            continue
        for pattern, make in patterns:
            match = re.fullmatch(pattern, line)
            if match:
                events.append(make(match))
                break
        else:
            raise AssertionError(f"the doc shows a line no event prints: {line!r}")
    return events


def test_training_output_example_is_what_format_event_prints() -> None:
    example = blocks("text")[0]
    assert example in section("Training output")
    shown = [line for line in example.rstrip("\n").split("\n") if line != "..."]
    printed = "\n".join(format_event(event) or "" for event in events_for(shown)).split("\n")
    assert printed == shown


def test_other_lines_quoted_in_the_doc_are_what_format_event_prints() -> None:
    text = section("Training output")
    examples = {
        TrainingCompleted("trainer", 3, ""): "✓ Training complete.",
        TrainingResumed("trainer", "checkpoints/checkpoint_epoch_10.pt", 10, 20):
            "✓ Resumed from checkpoints/checkpoint_epoch_10.pt (epoch 10); continuing at epoch 11 of 20",
        TrainingStopped("trainer", 7): "Training stopped at epoch 7",
        CheckpointFailed("trainer", "PATH", "CAUSE", "best"): "  ✗ Could not save checkpoint PATH: CAUSE",
    }
    for event, line in examples.items():
        assert (format_event(event) or "").strip("\n") == line
        generic = line.replace("7", "e") if isinstance(event, TrainingStopped) else line
        assert f"`{generic.strip()}`" in text or f"`{generic}`" in text, generic
    with_val = format_event(EpochEnded("trainer", 1, 20, 0.5, 0.25))
    assert with_val is not None and with_val.endswith(", Val Loss: 0.2500") and "`, Val Loss: y.yyyy`" in text


def test_inspect_example_has_the_lines_describe_prints(tmp_path: Path) -> None:
    example = blocks("text")[1]
    assert example.startswith("Checkpoint: checkpoints/final_model.pt")
    from medical_imaging_framework.checkpoints.inspect import curve_summary

    real = curve_summary("Training loss", [0.7683, 0.7, 0.6428])
    pattern = re.sub(r"\d+(?:\.\d+)?", lambda m: NUMBER, re.escape(real[0].replace("(3 epochs)", "(20 epochs)")))
    assert re.search(pattern, example), "the doc's curve line has the printed form"
    assert re.search(r"^Intact: yes \(all \d+ records pass their checksums; loads with weights_only=True\)$",
                     example, flags=re.M)
