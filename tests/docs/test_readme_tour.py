"""The README's five-minute tour is true: step 4 predicts with step 2's 20-epoch model, because step 3's
short run writes into a folder of its own."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from medical_imaging_framework.core import NodeRegistry, load_pipeline
from medical_imaging_framework.core.examples import resolve_pipeline_path

README = Path(__file__).resolve().parents[2] / "README.md"


def _tour_commands() -> dict[int, list[list[str]]]:
    """Each tour step's `mif` commands, split like a shell would."""
    tour = README.read_text(encoding="utf-8").split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    steps = re.split(r"^(\d+)\. ", tour, flags=re.M)[1:]
    found: dict[int, list[list[str]]] = {}
    for number, body in zip(steps[::2], steps[1::2], strict=True):
        lines = [line.split("#")[0].strip() for line in body.splitlines() if ".venv/bin/mif " in line]
        found[int(number)] = [shlex.split(line)[1:] for line in lines]
    return found


def _checkpoint_dir(command: list[str]) -> str:
    """The Trainer's checkpoint folder of a `mif run` command: its --set, else the pipeline's own."""
    sets = dict(command[i + 1].split("=", 1) for i, word in enumerate(command) if word == "--set")
    graph = load_pipeline(resolve_pipeline_path(command[1]), NodeRegistry())
    return sets.get("trainer.checkpoint_dir", graph.nodes["trainer"].config["checkpoint_dir"])


def test_tour_step_4_scores_step_2s_model_not_step_3s() -> None:
    commands = _tour_commands()
    (train,), (short,) = commands[2], commands[3]
    infer, inspect = commands[4]
    assert train[:2] == short[:2] == ["run", "segmentation_train.json"]
    assert "trainer.num_epochs=5" in short
    infer_graph = load_pipeline(resolve_pipeline_path(infer[1]), NodeRegistry())
    loaded = Path(infer_graph.nodes["load_checkpoint"].config["path"])
    assert loaded.parent == Path(_checkpoint_dir(train))  # step 4 loads step 2's best model...
    assert Path(_checkpoint_dir(short)) != loaded.parent  # ...which step 3 does not overwrite
    assert inspect == ["inspect", str(loaded)]
