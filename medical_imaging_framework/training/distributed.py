"""Several processes: the process group from torchrun's environment, rank helpers, reductions.

One process is the default and everything here is then a no-op (rank 0 of a world of 1). Under
``torchrun`` (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` set) the first call to `ensure_process_group`
joins the group: gloo for CPU tensors and, where CUDA and NCCL exist, nccl for CUDA tensors, so one group
serves a CPU-only and a GPU run alike. Each rank trains on ``cuda:LOCAL_RANK`` when it uses CUDA.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Sampler
from torch.utils.data.distributed import DistributedSampler

from medical_imaging_framework.run.control import Cancelled, CancelToken, NodeError
from medical_imaging_framework.run.launch import launched_by_torchrun, restart_count

T = TypeVar("T")
# How long a rank waits for the others at a collective before it fails (instead of hanging forever).
COLLECTIVE_TIMEOUT = timedelta(minutes=int(os.environ.get("MIF_DIST_TIMEOUT_MIN", "30")))


def is_active() -> bool:
    """Whether this process belongs to an initialised process group of more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's global rank (0 outside a process group; ``RANK`` before the group is joined)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0")) if launched_by_torchrun() else 0


def world_size() -> int:
    """Number of ranks (1 outside a process group)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1")) if launched_by_torchrun() else 1


def is_main() -> bool:
    """Whether this process prints and writes files (rank 0)."""
    return rank() == 0


def local_rank() -> int:
    """The rank on this machine (``LOCAL_RANK``), which picks the GPU."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def backend() -> str:
    """gloo for CPU tensors, plus nccl for CUDA tensors where this PyTorch has CUDA and NCCL."""
    if torch.cuda.is_available() and dist.is_nccl_available():
        return "cpu:gloo,cuda:nccl"
    return "gloo"


def ensure_process_group() -> bool:
    """Join torchrun's process group once; returns whether several ranks run.

    Raises:
        NodeError: the group cannot be joined (the message names the rendezvous address).
    """
    if not launched_by_torchrun() or not dist.is_available():
        return False
    if not dist.is_initialized():
        try:
            dist.init_process_group(backend=backend(), store=_attempt_store(), rank=int(os.environ["RANK"]),
                                    world_size=int(os.environ["WORLD_SIZE"]), timeout=COLLECTIVE_TIMEOUT)
        except (RuntimeError, ValueError) as error:
            where = f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')}"
            raise NodeError(f"cannot join the process group at {where}: {error}") from None
    return is_active()


def _attempt_store() -> dist.Store:
    """torchrun's key-value store, with keys of this restart attempt only.

    torchrun keeps one store for every attempt of an elastic run; without a prefix per attempt the
    restarted ranks would find the addresses of the ranks that died and fail to connect.
    """
    rank_number = int(os.environ["RANK"])
    agent_hosts_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == str(True)
    store = dist.TCPStore(
        host_name=os.environ["MASTER_ADDR"],
        port=int(os.environ["MASTER_PORT"]),
        world_size=int(os.environ["WORLD_SIZE"]),
        is_master=not agent_hosts_store and rank_number == 0,
        timeout=COLLECTIVE_TIMEOUT,
        multi_tenant=True,
    )
    return dist.PrefixStore(f"mif/attempt_{restart_count()}", store)


def shutdown() -> None:
    """Leave the process group (end of a run) together with the other ranks; a no-op outside one.

    Without the barrier a rank that finishes first closes its gloo connections while rank 0 is still
    writing the final checkpoint, and rank 0's transport thread then aborts the process at exit
    ("terminate called without an active exception", seen once after an elastic restart).
    """
    if dist.is_available() and dist.is_initialized():
        with contextlib.suppress(RuntimeError):  # a peer already gone: leave anyway
            dist.barrier()
        dist.destroy_process_group()


def rank_device(device: torch.device) -> torch.device:
    """``cuda:LOCAL_RANK`` for a CUDA device under several ranks (and make it current), else ``device``.

    Args:
        device: the device the node's ``device`` parameter resolved to.
    """
    if device.type != "cuda" or not launched_by_torchrun():
        return device
    index = local_rank() % max(1, torch.cuda.device_count())
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def _collective_device() -> torch.device:
    """Where tensors of a collective live: CUDA under nccl, else CPU."""
    if torch.cuda.is_available() and dist.get_backend() != "gloo":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def barrier() -> None:
    """Wait until every rank arrives (a no-op in one process)."""
    if is_active():
        dist.barrier()


def all_reduce_sum(values: Sequence[float]) -> list[float]:
    """The element-wise sum of ``values`` over all ranks, in float64.

    Args:
        values: this rank's numbers (the same length on every rank).
    """
    if not is_active():
        return [float(value) for value in values]
    tensor = torch.tensor([float(value) for value in values], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return [float(value) for value in tensor.cpu()]


def all_gather_objects(value: T) -> list[T]:
    """Every rank's ``value`` (picklable), ordered by rank; ``[value]`` in one process.

    Args:
        value: this rank's object.
    """
    if not is_active():
        return [value]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def broadcast_object(value: T) -> T:
    """Rank 0's ``value`` on every rank.

    Args:
        value: the object (only rank 0's is used).
    """
    if not is_active():
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def run_on_main(action: Callable[[], T]) -> T | None:
    """Run ``action`` on rank 0 only while the others wait; a failure there fails every rank.

    Rank 0's result is returned there (None elsewhere). When ``action`` raises on rank 0, the
    exception propagates there and the other ranks raise a `NodeError` naming it, so none waits forever.

    Args:
        action: what rank 0 does (e.g. write a checkpoint).
    """
    if not is_active():
        return action()
    result, failure = None, ""
    if is_main():
        try:
            result = action()
        except BaseException as error:
            broadcast_object(f"{type(error).__name__}: {error}")
            raise
    failure = broadcast_object(failure)
    if failure and not is_main():
        raise NodeError(f"rank 0 failed: {failure}")
    return result


def wrap_model(model: nn.Module, device: torch.device) -> nn.Module:
    """``DistributedDataParallel(model)`` when several ranks run, else ``model`` unchanged.

    Args:
        model: the network, already on ``device``.
        device: this rank's device.
    """
    if not is_active():
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + world, ...`` of a dataset: every item on exactly one rank, none repeated.

    For evaluation and inference, where a padded `DistributedSampler` would count some items twice.
    `interleave` puts per-rank results back in the dataset's order.

    Args:
        length: items in the dataset.
        shard: this rank.
        shards: number of ranks.
    """

    def __init__(self, length: int, shard: int, shards: int) -> None:
        self.indices = list(range(shard, length, shards))

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def interleave(per_rank: Sequence[Sequence[T]]) -> list[T]:
    """Undo `ShardSampler`: item ``i`` of rank ``r`` goes to position ``i * world + r``.

    Args:
        per_rank: each rank's results, ordered by rank.
    """
    merged: list[T] = []
    longest = max((len(items) for items in per_rank), default=0)
    for index in range(longest):
        merged.extend(items[index] for items in per_rank if index < len(items))
    return merged


def shard_loader(loader: Any, training: bool, seed: int = 0) -> Any:
    """A copy of ``loader`` reading only this rank's share (``loader`` itself in one process).

    Training: a `DistributedSampler` (shuffled when the loader shuffled, by ``seed`` and the epoch set
    with ``set_epoch``; padded so every rank runs the same number of batches). Otherwise a `ShardSampler`.

    Args:
        loader: a ``torch.utils.data.DataLoader``.
        training: which sampler to use.
        seed: the shuffle seed of training.

    Raises:
        NodeError: ``loader`` is not a DataLoader (its items cannot be shared out).
    """
    if not is_active() or loader is None:
        return loader
    if not isinstance(loader, DataLoader):
        raise NodeError(f"several processes need a DataLoader to share out the items (got {type(loader).__name__})")
    sampler: Sampler[int]
    if training:
        shuffle = isinstance(loader.sampler, torch.utils.data.RandomSampler)
        sampler = DistributedSampler(loader.dataset, shuffle=shuffle, seed=seed, drop_last=False)
    else:
        sampler = ShardSampler(len(loader.dataset), rank(), world_size())  # type: ignore[arg-type]
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        worker_init_fn=loader.worker_init_fn,
        persistent_workers=loader.num_workers > 0,
    )


def set_sampler_epoch(loader: Any, epoch: int) -> None:
    """Call ``set_epoch(epoch)`` on the loader's sampler when it has one (a `DistributedSampler`).

    Args:
        loader: a DataLoader (or anything).
        epoch: the 1-based epoch about to run.
    """
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)


class SharedCancelToken(CancelToken):
    """A cancel token that every rank agrees on, so all ranks stop after the same training batch.

    A stop asked for on any rank (Ctrl-C, torchrun forwarding SIGTERM) is all-reduced at each check
    made with gradients enabled, i.e. in the training loop, where every rank runs the same number of
    batches. Checks without gradients (validation, whose shards may differ by a batch) are deferred to
    the next training batch, so no rank waits at a collective the others never reach.

    Args:
        local: the run's token, set by signal handlers or the GUI.
    """

    def __init__(self, local: CancelToken) -> None:
        super().__init__()
        self.local = local

    def cancel(self) -> None:
        """Ask every rank to stop (at the next training batch)."""
        self.local.cancel()

    @property
    def cancelled(self) -> bool:
        """Whether a stop was asked for on this rank."""
        return self.local.cancelled

    def raise_if_cancelled(self) -> None:
        """Raise `Cancelled` when any rank asked to stop (checked collectively in the training loop)."""
        if not is_active():
            self.local.raise_if_cancelled()
            return
        if not torch.is_grad_enabled():
            return
        if all_reduce_sum([1.0 if self.local.cancelled else 0.0])[0] > 0:
            self.local.cancel()
            raise Cancelled()


def gather_sharded(items: Sequence[T]) -> list[T]:
    """Every rank's ``items`` of a `ShardSampler` shard, merged back in the dataset's order.

    Args:
        items: this rank's results, one per item of its shard, in shard order.
    """
    if not is_active():
        return list(items)
    return interleave(all_gather_objects(list(items)))
