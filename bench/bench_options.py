"""Options every CPU benchmark shares: how many torch threads both sides of an A/B comparison use."""

from __future__ import annotations

import argparse


def add_thread_option(parser: argparse.ArgumentParser) -> None:
    """``--threads`` (default 1): on a shared, busy machine more threads spin on each other.

    Args:
        parser: the benchmark's argument parser.
    """
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: on a shared, busy machine more threads spin on "
                             "each other and the timings turn to noise; both sides use the same)")


def apply_thread_option(args: argparse.Namespace) -> None:
    """Set torch's intra-op threads from ``--threads`` (both sides of the comparison run with it).

    Args:
        args: the parsed options.
    """
    import torch

    torch.set_num_threads(max(1, args.threads))


def cuda_missing(device: str) -> bool:
    """Print a SKIP line and return True when ``device`` is cuda but torch sees no CUDA device.

    Args:
        device: the benchmark's ``--device``.
    """
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        print("SKIP: --device cuda, but torch sees no CUDA device")
        return True
    return False
