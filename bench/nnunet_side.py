"""The nnU-Net v2 side of ``bench/plan_vs_nnunet.py``: its own venv, its planner, training and prediction.

nnunetv2 is a bench dependency only: it lives in ``bench/.venv-nnunet`` (git-ignored), installed with the
project's ``constraints.txt`` so torch stays the pinned CPU build (2.13.0); a resolver that wants any other
torch would download a multi-GB CUDA build, so ``pip install --dry-run --report`` is read first and the
install refused if it would change torch. Every nnU-Net command runs in a subprocess of that venv.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "bench" / ".venv-nnunet"
TRAINER = "nnUNetTrainer_MifBudget"
PINNED_TORCH = "2.13.0"


def venv_python(venv: Path = VENV) -> Path:
    """The venv's interpreter; creates the venv and installs nnunetv2 (checked first) when missing.

    Args:
        venv: the venv folder.
    """
    python = venv / "bin" / "python"
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        if subprocess.run([str(python), "-c", "import nnunetv2"], capture_output=True).returncode != 0:
            _install(python)
        _install_trainer(python)
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"setting up nnU-Net in {venv} failed: `{' '.join(map(str, error.cmd))}` exited "
                         f"{error.returncode}{': ' + error.stderr.strip() if error.stderr else ''}") from None
    return python


def _install(python: Path) -> None:
    """``pip install nnunetv2 -c constraints.txt``, refused when the dry run would bring another torch."""
    pip = [str(python), "-m", "pip", "install", "nnunetv2", "-c", str(ROOT / "constraints.txt")]
    print("checking what `pip install nnunetv2 -c constraints.txt` would install (dry run) ...", flush=True)
    report = subprocess.run([*pip, "--dry-run", "--quiet", "--report", "-"], check=True,
                            capture_output=True, text=True).stdout
    versions = {item["metadata"]["name"].lower(): item["metadata"]["version"]
                for item in json.loads(report)["install"]}
    torch = versions.get("torch")
    if torch is not None and torch.split("+")[0] != PINNED_TORCH:
        raise SystemExit(f"refused: installing nnunetv2 would bring torch {torch}, not the pinned {PINNED_TORCH} "
                         "(a multi-GB CUDA build); check constraints.txt")
    print(f"installing nnunetv2 {versions.get('nnunetv2')} (torch {torch or 'already there'}) into {python.parents[1]}",
          flush=True)
    subprocess.run(pip, check=True)


def _install_trainer(python: Path) -> None:
    """Copy the budget trainer into the venv's nnunetv2 trainer package (``-tr`` finds trainers there).

    At the package's top, not under ``variants/``: nnU-Net's lookup imports the top's modules before any
    sub-package, and its ``primus`` sub-package imports timm -> torchvision, whose only build pinned to torch
    2.13.0 on this index fails to load its operators with the CPU torch ("operator torchvision::nms does not
    exist"). Found at the top, the lookup never gets there.
    """
    package = subprocess.run([str(python), "-c", "import nnunetv2, os; print(os.path.dirname(nnunetv2.__file__))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    target = Path(package) / "training" / "nnUNetTrainer" / f"{TRAINER}.py"
    shutil.copyfile(ROOT / "bench" / "nnunet_budget_trainer.py", target)


def environment(work: Path, budget_min: float | None = None) -> dict[str, str]:
    """The environment nnU-Net's commands read its three folders (and the bench's budget) from.

    Args:
        work: the bench's work folder.
        budget_min: the training budget in minutes, for the budget trainer.
    """
    env = dict(os.environ)
    for name in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"):
        env[name] = str(work / name)
    if budget_min is not None:
        env["NNUNET_BENCH_BUDGET_MIN"] = str(budget_min)
    return env


def children_cpu_s() -> float:
    """CPU seconds (user + system) of the finished child processes of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tool(python: Path, name: str) -> str:
    return str(python.parent / name)


def _logged(command: list[str], env: dict[str, str], log: Path) -> None:
    """Run an nnU-Net command with its output in ``log``; a failure names the command and shows the log's end."""
    with log.open("w", encoding="utf-8") as out:
        code = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    if code != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
        raise SystemExit(f"`{Path(command[0]).name} {' '.join(command[1:])}` failed (exit {code}); the end of "
                         f"{log}:\n{tail}")


def plan(python: Path, work: Path, dataset_id: int) -> tuple[dict[str, Any], float]:
    """nnU-Net's fingerprint, planner and preprocessing for 3d_fullres; returns (its plans, seconds).

    Args:
        python: the venv's interpreter.
        work: the bench's work folder.
        dataset_id: nnU-Net's dataset number.
    """
    start = time.perf_counter()
    _logged([_tool(python, "nnUNetv2_plan_and_preprocess"), "-d", str(dataset_id), "-c", "3d_fullres",
             "--verify_dataset_integrity", "-npfp", "2", "-np", "2"], environment(work), work / "nnunet_plan.log")
    seconds = time.perf_counter() - start
    folder = next((work / "nnUNet_preprocessed").glob(f"Dataset{dataset_id:03d}_*"))
    return json.loads((folder / "nnUNetPlans.json").read_text(encoding="utf-8")), seconds


def plan_rows(plans: dict[str, Any]) -> dict[str, str]:
    """The plan's choices as printable rows, in the NIfTI's voxel axis order (i, j, k).

    nnU-Net reads NIfTI with SimpleITK, whose arrays are (k, j, i): its lists are reversed here.

    Args:
        plans: ``nnUNetPlans.json``.
    """
    config = plans["configurations"]["3d_fullres"]
    flip = plans.get("image_reader_writer", "SimpleITKIO") == "SimpleITKIO"

    def axes(values: list[Any]) -> list[Any]:
        return list(reversed(values)) if flip else list(values)

    arch = config["architecture"]["arch_kwargs"]
    intensity = plans.get("foreground_intensity_properties_per_channel", {}).get("0", {})
    norm = ", ".join(config["normalization_schemes"])
    if intensity and "CT" in norm:
        norm += (f" (clip {intensity['percentile_00_5']:.0f}..{intensity['percentile_99_5']:.0f} HU, "
                 f"mean {intensity['mean']:.1f}, std {intensity['std']:.1f})")
    strides = [axes(s) for s in arch["strides"]]
    return {
        "median shape (voxels)": str(axes(config["median_image_size_in_voxels"])),
        "target spacing (mm)": str([round(float(v), 3) for v in axes(config["spacing"])]),
        "patch size": str(axes(config["patch_size"])),
        "batch size": str(config["batch_size"]),
        "stages / depth": f"{arch['n_stages']} stages, strides {strides[1:]}",
        "features": str(arch["features_per_stage"]),
        "normalisation": norm,
        "loss": "Dice + CE, deep supervision",
        "epochs": "1000 x 250 iterations (here: until the --train budget)",
        "inference": f"window {axes(config['patch_size'])}, gaussian, overlap 0.5, mirroring (off here: --disable_tta)",
    }


def write_split(work: Path, dataset_id: int, folds: list[dict[str, list[str]]]) -> None:
    """Write ``splits_final.json`` (nnU-Net reads fold ``k`` from it) into the preprocessed folder.

    Args:
        work: the bench's work folder.
        dataset_id: nnU-Net's dataset number.
        folds: the folds (``nnunet_layout.nnunet_splits``).
    """
    folder = next((work / "nnUNet_preprocessed").glob(f"Dataset{dataset_id:03d}_*"))
    (folder / "splits_final.json").write_text(json.dumps(folds, indent=2) + "\n", encoding="utf-8")


def train(python: Path, work: Path, dataset_id: int, budget_min: float) -> tuple[float, float]:
    """Train fold 0 on the CPU with the budget trainer; returns the command's (wall-clock, CPU) seconds.

    Args:
        python: the venv's interpreter.
        work: the bench's work folder.
        dataset_id: nnU-Net's dataset number.
        budget_min: minutes of training.
    """
    start, cpu = time.perf_counter(), children_cpu_s()
    _logged([_tool(python, "nnUNetv2_train"), str(dataset_id), "3d_fullres", "0", "-tr", TRAINER, "-device", "cpu"],
            environment(work, budget_min), work / "nnunet_train.log")
    return time.perf_counter() - start, children_cpu_s() - cpu


def predict(python: Path, work: Path, dataset_id: int, images: Path, out: Path) -> float:
    """Predict ``images`` (``<case>_0000.nii.gz``) with fold 0's final checkpoint; returns seconds.

    Without test-time mirroring (``--disable_tta``), as mif's plan chooses on a CPU (8 passes per window there).

    Args:
        python: the venv's interpreter.
        work: the bench's work folder.
        dataset_id: nnU-Net's dataset number.
        images: the nnU-Net raw ``imagesTs`` folder.
        out: where the predictions go (``<case>.nii.gz``, on each source image's grid).
    """
    start = time.perf_counter()
    _logged([_tool(python, "nnUNetv2_predict"), "-i", str(images), "-o", str(out), "-d", str(dataset_id),
             "-c", "3d_fullres", "-f", "0", "-tr", TRAINER, "-chk", "checkpoint_final.pth", "-device", "cpu",
             "-npp", "1", "-nps", "1", "--disable_tta"], environment(work), work / "nnunet_predict.log")
    return time.perf_counter() - start
