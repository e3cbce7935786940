"""Parameter parsing and validation: the rules shared by the CLI and the GUI dialog."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medical_imaging_framework.core import NodeRegistry, Param, ParamError, ParamKind

WHOLE_AT_LEAST_ONE = Param("save_every_n_epochs", ParamKind.INT, 5, minimum=1)


@pytest.mark.parametrize("text", ["0", "-1", "abc", "2.5", "", " ", "1e1", "1_0", "\u0665"])
def test_whole_number_at_least_one_refuses_bad_text_naming_node_field_and_rule(text: str) -> None:
    with pytest.raises(ParamError) as caught:
        WHOLE_AT_LEAST_ONE.parse(text, node_id="trainer")
    message = str(caught.value)
    assert "trainer" in message
    assert "save_every_n_epochs" in message
    assert "whole number >= 1" in message
    assert caught.value.node_id == "trainer" and caught.value.field == "save_every_n_epochs"


@pytest.mark.parametrize(("text", "expected"), [("5", 5), (" 12 ", 12), (3, 3), (4.0, 4)])
def test_whole_number_accepts_text_and_integral_values(text: object, expected: int) -> None:
    assert WHOLE_AT_LEAST_ONE.parse(text) == expected


def test_bool_is_not_accepted_as_a_number() -> None:
    with pytest.raises(ParamError):
        WHOLE_AT_LEAST_ONE.parse(True)


@given(st.integers(min_value=1, max_value=10**9))
def test_int_text_round_trips(value: int) -> None:
    assert WHOLE_AT_LEAST_ONE.parse(WHOLE_AT_LEAST_ONE.to_text(value)) == value


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=0))
def test_float_text_round_trips(value: float) -> None:
    lr = Param("lr", ParamKind.FLOAT, 1e-3, minimum=0)
    assert lr.parse(lr.to_text(value)) == value


@pytest.mark.parametrize("text", ["nan", "inf", "-0.1", "x"])
def test_float_refuses_non_finite_negative_and_text(text: str) -> None:
    with pytest.raises(ParamError, match="must be a number >= 0"):
        Param("lr", ParamKind.FLOAT, 1e-3, minimum=0).parse(text, "adam")


def test_bool_choice_and_list_parsing() -> None:
    flag = Param("shuffle", ParamKind.BOOL, True)
    assert flag.parse("false") is False and flag.parse("Yes") is True
    with pytest.raises(ParamError, match="true or false"):
        flag.parse("maybe")
    device = Param("device", ParamKind.CHOICE, "auto", choices=("auto", "cpu", "cuda"))
    assert device.parse(" cpu ") == "cpu"
    with pytest.raises(ParamError, match="one of: auto, cpu, cuda"):
        device.parse("tpu")
    channels = Param("channels", ParamKind.INT_LIST, [16, 32], minimum=1)
    assert channels.parse("16, 32,64") == [16, 32, 64]
    assert channels.to_text([16, 32]) == "16, 32"
    for bad in ("", "16,x", "16,0", [1.5]):
        with pytest.raises(ParamError):
            channels.parse(bad)


def test_text_params_may_refuse_empty() -> None:
    assert Param("dir", ParamKind.STR, "x").parse("") == ""
    with pytest.raises(ParamError, match="must not be empty"):
        Param("folder", ParamKind.PATH, "x", allow_empty=False).parse("  ", "reader")


def test_registry_creates_trainer_with_every_default() -> None:
    registry = NodeRegistry()
    trainer = registry.create("training.Trainer")
    spec = registry.get("training.Trainer")
    assert set(trainer.config) == {p.name for p in spec.params}
    assert trainer.config["checkpoint_dir"] == "checkpoints"
    assert trainer.config["save_every_n_epochs"] == 5
    trainer.config["checkpoint_dir"] = "ckpt"
    assert trainer.parsed_config()["checkpoint_dir"] == "ckpt"


def test_set_param_keeps_old_value_when_refused() -> None:
    trainer = NodeRegistry().create("training.Trainer", "trainer")
    with pytest.raises(ParamError):
        trainer.set_param("save_every_n_epochs", "0")
    assert trainer.config["save_every_n_epochs"] == 5
    trainer.set_param("save_every_n_epochs", "2")
    assert trainer.config["save_every_n_epochs"] == 2
