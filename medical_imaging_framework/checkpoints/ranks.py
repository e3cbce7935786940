"""The Trainer under several processes (torchrun + DistributedDataParallel): what each rank does.

Every rank trains on its share of the batches (a `DistributedSampler`, reshuffled by seed and epoch) and
validates its share of the items; losses are summed over ranks, so the logged loss is the mean over all
samples. Only rank 0 writes checkpoints, while the others wait for it (`run_on_main`); each file holds
the random-number state of every rank (``rank_rng_states``, added through the policy's ``extra`` hook by
`RankRngStates`) so a resumed run continues each rank's.
In one process none of this changes anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from medical_imaging_framework.checkpoints.policy import CheckpointPolicy
from medical_imaging_framework.checkpoints.state import capture_rng_state, restore_rng_state
from medical_imaging_framework.training import distributed
from medical_imaging_framework.training.loop import Callback, EpochResult, TrainingState

RANK_RNG_KEY = "rank_rng_states"


@dataclass
class RankRngStates:
    """Every rank's random-number state, gathered at each epoch end: a `CheckpointPolicy`'s ``extra`` hook,
    which adds it to each file (nothing in one process)."""

    states: list[Any] = field(default_factory=list)

    def __call__(self) -> dict[str, Any]:
        """The entries to add to a checkpoint."""
        return {RANK_RNG_KEY: self.states} if self.states else {}


class RankSynchronisedCheckpoints(Callback):
    """Runs the checkpoint policy on rank 0 while every rank waits, so none reads a half-written file.

    Args:
        policy: the policy (None on ranks that write nothing).
        rank_states: where every rank's random state is gathered for the policy's files (None: not gathered).
    """

    def __init__(self, policy: CheckpointPolicy | None, rank_states: RankRngStates | None = None) -> None:
        self.policy = policy
        self.rank_states = rank_states

    def on_train_start(self, state: TrainingState) -> None:
        """Rank 0 prepares the folder; the others wait."""
        policy = self.policy
        distributed.run_on_main(lambda: policy.on_train_start(state) if policy else None)

    def on_epoch_end(self, state: TrainingState, result: EpochResult) -> None:
        """Gather every rank's random state, then rank 0 saves what is due."""
        self._gather_rng()
        policy = self.policy
        distributed.run_on_main(lambda: policy.on_epoch_end(state, result) if policy else None)

    def on_train_end(self, state: TrainingState, completed: bool) -> None:
        """Rank 0 writes the final model (after a complete run); the others wait."""
        if completed:
            self._gather_rng()
        policy = self.policy
        distributed.run_on_main(lambda: policy.on_train_end(state, completed) if policy else None)

    def _gather_rng(self) -> None:
        states = distributed.all_gather_objects(capture_rng_state())
        if self.policy is not None and self.rank_states is not None:
            self.rank_states.states = states


class SamplerEpochs(Callback):
    """Calls ``set_epoch`` on the training sampler before each epoch, so each epoch's shuffle differs
    while the same seed and epoch always give the same order (also after a resume).

    Args:
        loader: the (sharded) training loader.
    """

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def on_train_start(self, state: TrainingState) -> None:
        """Set the epoch about to run."""
        distributed.set_sampler_epoch(self.loader, state.epoch + 1)

    def on_epoch_end(self, state: TrainingState, result: EpochResult) -> None:
        """Set the next epoch."""
        distributed.set_sampler_epoch(self.loader, result.epoch + 1)


def restore_rank_rng(checkpoint: Mapping[str, Any]) -> list[str]:
    """Give this rank its own saved random state back (after rank 0's was restored everywhere).

    Args:
        checkpoint: the loaded checkpoint.

    Returns:
        Warnings (a different number of ranks than when it was saved).
    """
    states = checkpoint.get(RANK_RNG_KEY) or []
    if not distributed.is_active():
        return []
    if len(states) != distributed.world_size():
        if not states:
            return ["the checkpoint holds one process's random state; every rank continues from rank 0's"]
        return [f"the checkpoint holds the random state of {len(states)} ranks, this run has "
                f"{distributed.world_size()}; every rank continues from rank 0's"]
    return restore_rng_state(states[distributed.rank()])


@dataclass
class DistributedSetup:
    """The per-rank pieces of a training run (equal to the inputs in one process)."""

    train_loader: Any
    val_loader: Any
    callbacks: list[Callback]
    active: bool


def prepare(
    state: TrainingState,
    device: Any,
    train_loader: Any,
    val_loader: Any,
    callbacks: list[Callback],
    seed: int,
) -> DistributedSetup:
    """Wrap the model in DDP (``state.model``), shard the loaders, and adapt the callbacks.

    Checkpoint policies run on rank 0 only, with every rank waiting (`RankSynchronisedCheckpoints`);
    other callbacks run on every rank.

    Args:
        state: the training state; after a resume, so every rank starts from the same weights.
        device: this rank's device.
        train_loader: the training DataLoader.
        val_loader: the validation DataLoader or None.
        callbacks: the Trainer's callbacks for one process.
        seed: the shuffle seed.
    """
    if not distributed.is_active():
        return DistributedSetup(train_loader, val_loader, callbacks, False)
    state.model = distributed.wrap_model(state.model, device)
    sharded = distributed.shard_loader(train_loader, training=True, seed=seed)
    adapted: list[Callback] = [SamplerEpochs(sharded)]
    for callback in callbacks:
        if isinstance(callback, CheckpointPolicy):
            rank_states = callback.extra if isinstance(callback.extra, RankRngStates) else None
            adapted.append(RankSynchronisedCheckpoints(callback if distributed.is_main() else None, rank_states))
        else:
            adapted.append(callback)
    return DistributedSetup(sharded, distributed.shard_loader(val_loader, training=False), adapted, True)
