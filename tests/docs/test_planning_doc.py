"""PLANNING.md and the README's step 8 say what `mif plan` does: its rules' numbers, and three commands that
chain (the plan's folder holds the two pipelines the runs name)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from medical_imaging_framework.cli.main import build_parser
from medical_imaging_framework.nodes.io.fingerprint_case import SAMPLE_SIZE
from medical_imaging_framework.tools import planning
from medical_imaging_framework.tools.plan_pipelines import INFER_FILE, TRAIN_FILE

ROOT = Path(__file__).resolve().parents[2]
PLANNING = (ROOT / "docs" / "segmentation" / "PLANNING.md").read_text(encoding="utf-8")


def _commands(text: str, prefix: str) -> list[list[str]]:
    return [shlex.split(line.split("#")[0])[1:] for line in text.splitlines() if line.strip().startswith(prefix)]


def test_the_readme_and_planning_md_give_three_commands_that_chain() -> None:
    tour = (ROOT / "README.md").read_text(encoding="utf-8").split("## A five-minute tour", 1)[1]
    step = re.split(r"^8\. ", tour, flags=re.M)[1].split("\n## ", 1)[0]
    readme = _commands(step, ".venv/bin/mif ")
    assert readme == _commands(PLANNING, "mif ")[:3]  # the same three in both
    plan, train, infer = (build_parser().parse_args(command) for command in readme)
    assert (plan.command, train.command, infer.command) == ("plan", "run", "run")
    assert Path(train.pipeline) == Path(plan.out) / TRAIN_FILE and Path(infer.pipeline) == Path(plan.out) / INFER_FILE


def test_planning_md_states_the_rules_numbers() -> None:
    stated = {
        f"above {planning.ANISOTROPY_THRESHOLD:g}": "anisotropy threshold",
        f"{planning.LOW_RES_PERCENTILE}th percentile": "low-resolution axis",
        f"≥ {planning.BOTTLENECK_MIN} voxels on every axis, at most {planning.MAX_DEPTH}": "depth",
        f"| Batch size | {planning.MIN_BATCH} |": "batch size",
        f"{planning.BASE_CHANNELS} at full resolution, doubled per level, at most {planning.MAX_CHANNELS}": "widths",
        f"{planning.TIME_FOR_TRAINING:.0%} of it in epochs": "time share",
        f"up to {SAMPLE_SIZE:,} per case, a seeded uniform sample": "intensity sample",
        f"at most {planning.MAX_EPOCHS}": "epochs cap",
        f"K = {planning.MAX_FOLDS}": "folds",
    }
    missing = [what for text, what in stated.items() if text not in PLANNING]
    assert not missing
