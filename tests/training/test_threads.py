"""The one thread policy, applied by the nodes that compute, in every way to run."""

from __future__ import annotations

import pytest
import torch

from medical_imaging_framework.training import threads


@pytest.mark.parametrize(("cores", "ranks", "expected"), [
    (1, 1, 1), (2, 1, 1), (4, 1, 3), (16, 1, 15), (2, 2, 1), (4, 2, 1), (16, 4, 3), (3, 4, 1),
])
def test_each_rank_gets_its_share_of_the_cores_less_one(cores: int, ranks: int, expected: int) -> None:
    assert threads.policy_threads(cores, ranks) == expected


def test_the_count_is_restored_after_the_block_and_a_gpu_gets_the_fixed_policy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "process_cores", lambda: 4)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    lines: list[str] = []
    with threads.torch_threads_restored():
        tuner = threads.measured_threads(torch.device("cuda"), None, 0, lines.append)
        assert tuner.threads == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    assert lines == ["Using 1 torch thread: training on cuda"]
