"""mif's automatic plan side by side with nnU-Net v2's, and (``--train MIN``) Dice at an equal time budget.

1. The dataset: ``--dataset DIR`` (a Decathlon folder with ``splits.json``), else ``bench/make_aniso_dataset.py``'s
   (24 CT-like cases, LPS, 0.8x0.8x2.5 mm, a shape per case; 18 train, 6 test), written into the work folder.
2. nnU-Net v2 in its own venv (``bench/.venv-nnunet``, created and filled on the first run; nnunetv2 is a bench
   dependency only): the dataset copied into its raw layout, ``nnUNetv2_plan_and_preprocess -c 3d_fullres
   --verify_dataset_integrity``.
3. ``mif plan dataset.json --device cpu --time-budget MIN`` (MIN: ``--train``, else 8).
4. Both plans printed side by side: target spacing, patch size, batch size, stages, normalisation (axes in the
   NIfTI's voxel order i, j, k).
5. With ``--train MIN``, one after the other on this machine: nnU-Net trains fold 0 for MIN minutes (a trainer
   that stops at the budget, ``bench/nnunet_budget_trainer.py``; fold 0 = mif's K-fold training/validation
   cases when the plan has a K-fold node, written to ``splits_final.json``) and predicts the held-out test
   cases; mif runs the planned train pipeline (its epochs fit MIN by the plan's measured speed) and the planned
   inference pipeline. Both prediction sets are scored by the same code (MONAI DiceMetric, each source grid):
   mean Dice per class and the ratio mif / nnU-Net.

    python bench/plan_vs_nnunet.py                      plans side by side (a few minutes)
    python bench/plan_vs_nnunet.py --train 8            plus 8 min of training each, predictions and Dice

Not part of ``make bench``: the first run installs nnunetv2 (minutes) and ``--train`` takes 2 x MIN plus
preprocessing and prediction.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import mif_side  # bench/ modules: `python bench/plan_vs_nnunet.py` puts bench/ first on the path
import nnunet_layout
import nnunet_side

sys.path.append(str(Path(__file__).resolve().parents[1]))  # after PYTHONPATH, so a tree named there wins

DATASET_ID = 501
NAME = "AnisoCT"


def _dataset(args: argparse.Namespace, work: Path) -> Path:
    if args.dataset:
        return Path(args.dataset).resolve()
    from make_aniso_dataset import write_dataset

    folder = work / "dataset"
    if not (folder / "splits.json").exists():
        write_dataset(folder, cases=24, test=6, seed=0)
    return folder


def _nnunet_plan(python: Path, work: Path, dataset: Path) -> dict:
    plans = work / "nnUNet_preprocessed" / f"Dataset{DATASET_ID:03d}_{NAME}" / "nnUNetPlans.json"
    if plans.exists():
        print(f"nnU-Net: reusing the plan and preprocessed data in {plans.parent} (delete it to plan again)")
        return json.loads(plans.read_text(encoding="utf-8"))
    raw = nnunet_layout.convert(dataset, work / "nnUNet_raw", DATASET_ID, NAME)
    print(f"nnU-Net: raw layout in {raw}; fingerprint, plan and preprocessing (3d_fullres) ...", flush=True)
    result, seconds = nnunet_side.plan(python, work, DATASET_ID)
    print(f"nnU-Net: planned and preprocessed in {seconds:.0f} s (log: {work / 'nnunet_plan.log'})")
    return result


def _side_by_side(mif_rows: dict[str, str], nnunet_rows: dict[str, str]) -> None:
    names = list(dict.fromkeys([*nnunet_rows, *mif_rows]))
    width = max(len(n) for n in names)
    column = max(len(v) for v in [*mif_rows.values(), "mif plan"])
    print(f"\n{'':{width}}  {'mif plan':{column}}  nnU-Net v2 3d_fullres")
    for name in names:
        print(f"{name:{width}}  {mif_rows.get(name, '-'):{column}}  {nnunet_rows.get(name, '-')}")


def _same_split(train_pipeline: Path, train_cases: list[str]) -> list[dict[str, list[str]]]:
    """nnU-Net's fold 0: mif's K-fold training/validation cases (the same split), else every training case."""
    fold = mif_side.kfold(train_pipeline)
    if fold is None:
        print("mif's plan has no K-fold node: both train on every training case")
        return nnunet_layout.nnunet_splits(train_cases)
    from medical_imaging_framework.nodes.data.specs import kfold_indices

    train, val = kfold_indices(len(train_cases), fold["folds"], fold["fold"], fold["seed"])
    print(f"the same split for both: mif's fold {fold['fold']} of {fold['folds']} (seed {fold['seed']}): "
          f"{len(train)} training, {len(val)} validation cases")
    return [{"train": [train_cases[i] for i in train], "val": [train_cases[i] for i in val]}]


def _train_and_score(args: argparse.Namespace, work: Path, dataset: Path, python: Path,
                     train_pipeline: Path, infer_pipeline: Path) -> None:
    splits = nnunet_layout.read_splits(dataset)
    nnunet_side.write_split(work, DATASET_ID, _same_split(train_pipeline, splits["train"]))
    print(f"\nload average before training: {os.getloadavg()[0]:.1f} (2 cores shared)", flush=True)
    print(f"nnU-Net: training fold 0 for {args.train:g} min (-device cpu) ...", flush=True)
    seconds, cpu = nnunet_side.train(python, work, DATASET_ID, args.train)
    budget_line = [line for line in (work / "nnunet_train.log").read_text(encoding="utf-8").splitlines()
                   if "budget:" in line]
    print(f"nnU-Net: trained, command {seconds:.0f} s wall, {cpu:.0f} s CPU; "
          f"{budget_line[-1].strip() if budget_line else ''}")
    nnunet_predictions = work / "predictions_nnunet"
    shutil.rmtree(nnunet_predictions, ignore_errors=True)
    images = work / "nnUNet_raw" / f"Dataset{DATASET_ID:03d}_{NAME}" / "imagesTs"
    seconds = nnunet_side.predict(python, work, DATASET_ID, images, nnunet_predictions)
    print(f"nnU-Net: predicted {len(splits['test'])} test cases in {seconds:.0f} s", flush=True)
    print(f"load average before mif: {os.getloadavg()[0]:.1f}", flush=True)
    run_folder = work / "mif_run"
    shutil.rmtree(run_folder, ignore_errors=True)
    seconds, cpu = mif_side.run(train_pipeline, run_folder, work / "mif_train.log")
    print(f"mif: trained, command {seconds:.0f} s wall, {cpu:.0f} s CPU (`mif run {train_pipeline.name}`)",
          flush=True)
    seconds, _ = mif_side.run(infer_pipeline, run_folder, work / "mif_predict.log")
    print(f"mif: predicted in {seconds:.0f} s", flush=True)
    description = json.loads((dataset / "dataset.json").read_text(encoding="utf-8"))
    names = [description["labels"][str(k)] for k in range(1, len(description["labels"]))]
    mif_predictions = mif_side.predictions_folder(infer_pipeline, run_folder)
    _print_dice(mif_predictions, nnunet_predictions, dataset / "labelsTs", splits["test"], names)


def _print_dice(mif_folder: Path, nnunet_folder: Path, labels: Path, cases: list[str], names: list[str]) -> None:
    from seg_dice import dice_per_class

    mif = dice_per_class(mif_folder, labels, cases, len(names) + 1).mean(axis=0)
    nnunet = dice_per_class(nnunet_folder, labels, cases, len(names) + 1).mean(axis=0)
    print(f"\nmean Dice on the {len(cases)} held-out cases (MONAI DiceMetric, each source grid)")
    print(f"{'class':12} {'mif':>7} {'nnU-Net':>8} {'mif/nnU-Net':>12}")
    for name, a, b in zip([*names, "mean"], [*mif, mif.mean()], [*nnunet, nnunet.mean()], strict=True):
        ratio = f"{a / b:.2f}" if b > 0 else "-"
        print(f"{name:12} {a:7.3f} {b:8.3f} {ratio:>12}")


def main(argv: list[str] | None = None) -> int:
    """Plan with both tools, print the plans, and with ``--train`` train, predict and score both.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="a Decathlon dataset folder with splits.json (default: make one)")
    parser.add_argument("--work", default="/tmp/plan_vs_nnunet", help="work folder (default /tmp/plan_vs_nnunet)")
    parser.add_argument("--train", type=float, metavar="MIN", help="train each tool for MIN minutes and score")
    parser.add_argument("--memory-gb", type=float, help="mif plan's --memory-gb (default: mif's)")
    parser.add_argument("--venv", help="an nnU-Net venv to use (default: bench/.venv-nnunet, made when missing)")
    args = parser.parse_args(argv)
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    dataset = _dataset(args, work)
    python = nnunet_side.venv_python(Path(args.venv).resolve()) if args.venv else nnunet_side.venv_python()
    nnunet_plans = _nnunet_plan(python, work, dataset)
    budget = args.train if args.train else 8.0
    shutil.rmtree(work / "mif_plan", ignore_errors=True)  # its checkpoint folder too: each run trains afresh
    explanation, seconds = mif_side.plan(dataset / "dataset.json", work / "mif_plan", budget, args.memory_gb)
    print(f"mif: planned in {seconds:.0f} s (--time-budget {budget:g}); its reasons:\n{explanation.rstrip()}")
    train_pipeline, infer_pipeline = mif_side.pipelines(work / "mif_plan")
    _side_by_side(mif_side.plan_rows(train_pipeline, infer_pipeline), nnunet_side.plan_rows(nnunet_plans))
    if args.train:
        _train_and_score(args, work, dataset, python, train_pipeline, infer_pipeline)
    print(f"\ntotal {time.perf_counter() - started:.0f} s; files in {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
