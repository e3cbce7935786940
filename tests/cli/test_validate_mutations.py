"""`mif validate` refuses every single-parameter change that would make `mif run` fail (issue 10 §2),
naming the node and field, with exit 2 and before anything runs."""

from __future__ import annotations

import pytest

from medical_imaging_framework.cli.main import EXIT_INVALID, main
from tests.support.mutations import MUTATIONS

CASES = [(name, *mutation) for name, table in MUTATIONS.items() for mutation in table]


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_example_has_at_least_15_mutations(name: str) -> None:
    assert len(MUTATIONS[name]) >= 15


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_example_validates_unchanged(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", name]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(("name", "node_id", "field", "value"), CASES, ids=[f"{c[0]}:{c[1]}.{c[2]}" for c in CASES])
def test_validate_refuses_a_mutation_that_fails_at_run_time(
    name: str, node_id: str, field: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", name, "--set", f"{node_id}.{field}={value}"]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert f"node '{node_id}', field '{field}'" in err
    assert "Traceback" not in err and "run with --debug" not in err


def test_validate_names_both_ends_of_a_size_conflict(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "segmentation_train.json", "--set", "phantoms.size=36"]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "node 'phantoms', field 'size': image size 36x36 does not divide by 8" in err
    assert "node 'unet', field 'strides'" in err
