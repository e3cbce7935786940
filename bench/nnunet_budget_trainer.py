"""nnU-Net v2's default trainer, stopped by a wall-clock budget (``bench/plan_vs_nnunet.py --train MIN``).

``bench/plan_vs_nnunet.py`` copies this file into the bench venv's ``nnunetv2/training/nnUNetTrainer/`` so
``nnUNetv2_train ... -tr nnUNetTrainer_MifBudget`` finds the class (nnU-Net looks trainers up by class name in
its own package). It needs nnunetv2, so nothing of the project imports it.

What differs from ``nnUNetTrainer`` (everything else -- network, loss, augmentation, sampling, optimizer -- is
nnU-Net's own):

- training stops when ``NNUNET_BENCH_BUDGET_MIN`` minutes have passed since the first iteration (the time
  nnU-Net spends building its data loaders before is not counted, nor its preprocessing);
- the poly learning-rate schedule runs on the fraction of the budget used, iteration by iteration, instead of
  on the epoch out of 1000, so the rate decays to zero at the budget as it would at the 1000th epoch;
- an epoch is 25 training and 5 validation iterations (not 250 and 50), and the budget is checked before each
  training iteration (the last epoch is cut short);
- no final validation on the fold's ``val`` cases (the bench predicts the held-out test cases itself).
"""

from __future__ import annotations

import os
import time

import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer


class nnUNetTrainer_MifBudget(nnUNetTrainer):  # nnU-Net's naming: `-tr` finds the trainer by this name
    """``nnUNetTrainer`` for a wall-clock budget in minutes (``NNUNET_BENCH_BUDGET_MIN``)."""

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")) -> None:
        # the explicit signature: nnUNetTrainer.__init__ records its arguments from the caller's parameter names
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.budget_s = float(os.environ.get("NNUNET_BENCH_BUDGET_MIN", "5")) * 60.0
        self.num_iterations_per_epoch = 25
        self.num_val_iterations_per_epoch = 5
        self.num_epochs = 100_000  # an upper bound: the budget ends training

    def _poly_lr(self, elapsed: float) -> None:
        fraction = min(elapsed / self.budget_s, 0.999)
        for group in self.optimizer.param_groups:
            group["lr"] = self.initial_lr * (1.0 - fraction) ** 0.9

    def run_training(self) -> None:
        """nnU-Net's loop (``nnUNetTrainer.run_training``) with the budget check and the time-based schedule."""
        self.on_train_start()
        start = time.perf_counter()
        iterations = 0
        while time.perf_counter() - start < self.budget_s and self.current_epoch < self.num_epochs:
            self.on_epoch_start()
            self.on_train_epoch_start()
            train_outputs = []
            for _ in range(self.num_iterations_per_epoch):
                elapsed = time.perf_counter() - start
                if elapsed >= self.budget_s and train_outputs:  # the budget ends the epoch too
                    break
                self._poly_lr(elapsed)
                train_outputs.append(self.train_step(next(self.dataloader_train)))
                iterations += 1
            self.on_train_epoch_end(train_outputs)
            with torch.no_grad():
                self.on_validation_epoch_start()
                val_outputs = [self.validation_step(next(self.dataloader_val))
                               for _ in range(self.num_val_iterations_per_epoch)]
                self.on_validation_epoch_end(val_outputs)
            self.on_epoch_end()
        self.print_to_log_file(f"budget: {iterations} iterations in {self.current_epoch} epochs, "
                               f"{time.perf_counter() - start:.0f} s of {self.budget_s:.0f} s")
        self.on_train_end()

    def perform_actual_validation(self, save_probabilities: bool = False) -> None:
        """Skipped: the bench scores the held-out test cases, not the fold's validation cases."""
        self.print_to_log_file("final validation skipped (bench/plan_vs_nnunet.py scores the test cases)")
