"""`mif nodes` states what a number list accepts: the kind, its bound, and whether it may be empty."""

from __future__ import annotations

import pytest

from medical_imaging_framework.cli.main import main


def test_nodes_lists_float_lists_their_bounds_and_empty_lists(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nodes"]) == 0
    out = capsys.readouterr().out
    assert "pixdim = '1.0, 1.0, 1.0'  [float_list, > 0] Target voxel size" in out
    assert "ratios = ''  [float_list, >= 0, or empty] Sampling weight" in out
    assert "applied_labels = ''  [int_list, >= 0, or empty] Classes to clean" in out
    assert "gamma_min = '0.7'  [float, > 0] Smallest gamma." in out
