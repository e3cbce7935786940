"""The node check hook: what `Graph.validate` knows about the data on each link, and the rules nodes add.

A node type may give its `NodeSpec` a ``check(ctx)`` function. `Graph.validate` calls it in topological
order with a `CheckContext`: the node's parsed config, and the *facts* known about each linked input
(spatial dims, image size, channels, the transform steps so far...). The check reports problems naming
a node and a field, and states the facts of its outputs for the nodes downstream. Every fact remembers
the node and field it came from, so a conflict between two nodes is reported at both ends.

Rules a node's ``run`` enforces about its own parameters or its neighbours belong here, so that a
pipeline that validates does not fail at run time because of its parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Fact:
    """Names of the facts that travel along links (plain strings, so plugins can add their own)."""

    SPATIAL_DIMS = "spatial_dims"  # int: 2 or 3 (images on a dataset/loader; the network on a model)
    IMAGE_SIZE = "image_size"  # tuple[int, ...]: spatial size of every item
    IMAGE_CHANNELS = "image_channels"  # int: channels of every image
    NUM_ITEMS = "num_items"  # int: items in a dataset
    HAS_LABELS = "has_labels"  # bool: items carry a label
    UNLABELLED_BECAUSE = "unlabelled_because"  # str: why items carry no label, and what to change (with HAS_LABELS)
    IN_CHANNELS = "in_channels"  # int: channels a model takes
    OUT_CHANNELS = "out_channels"  # int: channels a model outputs
    SIZE_MULTIPLE = "size_multiple"  # int: a model needs every image size to divide by this
    MIN_SIZE = "min_size"  # int: smallest image size a model works on
    LOSS_CHANNELS = "loss_channels"  # "one" (binary only), "many" (classes only) or "any"
    TRANSFORM_STEPS = "transform_steps"  # StepChain: the chain so far
    NO_DATA = "no_data"  # True: the port will carry None (e.g. an Apply output whose input is unlinked)


@dataclass(frozen=True)
class Known:
    """A fact's value and where it was set.

    Args:
        value: the value.
        node_id: the node whose parameter set it.
        field: that parameter ("" when the node as a whole set it).
    """

    value: Any
    node_id: str
    field: str = ""

    def where(self) -> str:
        """``node 'x', field 'y'``, for messages."""
        return f"node '{self.node_id}', field '{self.field}'" if self.field else f"node '{self.node_id}'"


@dataclass(frozen=True)
class TransformStep:
    """One step of a transform chain, as known to validation.

    Args:
        op: ``resize``, ``pad_crop``, ``divisible_pad``, ``random_crop``, ``label_crop``, ``reorient``,
            ``resample``, ``crop_foreground``, ``flip``, ``rotate90`` or ``intensity`` (no change of shape).
        value: the step's size (resize/pad_crop/random_crop/label_crop), axis codes (reorient), spacing
            (resample), foreground source (crop_foreground), multiple (divisible_pad) or axis (flip).
        node_id: the transform node.
        field: the parameter holding ``value``.
        random: the step runs on training data only.
    """

    op: str
    value: Any
    node_id: str
    field: str = ""
    random: bool = False


@dataclass(frozen=True, eq=False, repr=False)
class StepChain:
    """A transform chain as known to validation: its last step and the chain before it.

    Each transform node links one step to the chain it received instead of copying it, so the facts of
    a chain of n nodes hold n steps in all; copying held n²/2 (1.9 GB at 20,000 nodes). Compared by
    identity, never element by element (which would recurse once per step).

    Args:
        step: the last step.
        previous: the chain before it (None for the first step).
        followed: what the check that follows the chain (``transforms.Apply``) found, by input, so that
            several nodes sharing one chain follow it once.
    """

    step: TransformStep
    previous: StepChain | None = None
    followed: dict[Any, Any] = field(default_factory=dict)

    def then(self, step: TransformStep) -> StepChain:
        """This chain followed by ``step``."""
        return StepChain(step, previous=self)

    def steps(self) -> list[TransformStep]:
        """Every step, first to last."""
        steps: list[TransformStep] = []
        link: StepChain | None = self
        while link is not None:
            steps.append(link.step)
            link = link.previous
        steps.reverse()
        return steps

    def __repr__(self) -> str:
        return f"<StepChain ending at node '{self.step.node_id}'>"


Facts = dict[str, Known]


@dataclass
class CheckContext:
    """What a node's check sees, and where it reports.

    Args:
        node_id: the node being checked.
        config: its parsed parameters (every value already passed its own `Param` rule).
        inputs: facts known about each linked input port (an unlinked port is absent).
        outputs: facts the check states for its output ports; ports left unset get the union of the
            inputs' facts (right for pass-through nodes such as loaders).
        problems: ``(node_id, field, message)`` reported so far.
    """

    node_id: str
    config: dict[str, Any]
    inputs: dict[str, Facts] = field(default_factory=dict)
    outputs: dict[str, Facts] = field(default_factory=dict)
    problems: list[tuple[str, str, str]] = field(default_factory=list)

    def fact(self, port: str, name: str) -> Known | None:
        """The fact ``name`` on input ``port``, or None when unknown."""
        return self.inputs.get(port, {}).get(name)

    def merged_inputs(self) -> Facts:
        """The union of every input's facts (earlier ports win)."""
        merged: Facts = {}
        for facts in self.inputs.values():
            for name, known in facts.items():
                merged.setdefault(name, known)
        return merged

    def known(self, value: Any, field_name: str = "") -> Known:
        """A fact set by this node's parameter ``field_name``."""
        return Known(value, self.node_id, field_name)

    def provide(self, port: str, **facts: Known | None) -> None:
        """State facts of output ``port`` (None values are left out); unset ports pass their inputs through."""
        target = self.outputs.setdefault(port, dict(self.merged_inputs()))
        for name, known in facts.items():
            if known is None:
                target.pop(name, None)
            else:
                target[name] = known

    def problem(self, field_name: str, message: str) -> None:
        """Report a problem with this node's parameter ``field_name`` ("" for the node as a whole)."""
        self.problems.append((self.node_id, field_name, message))

    def problem_at(self, node_id: str, field_name: str, message: str) -> None:
        """Report a problem with another node's parameter (e.g. a transform step checked by Apply)."""
        self.problems.append((node_id, field_name, message))

    def conflict(self, field_name: str, message: str, *others: Known | None) -> None:
        """Report a rule broken between this node's ``field_name`` and facts set elsewhere, at every end.

        Args:
            field_name: this node's parameter involved ("" for the node as a whole).
            message: the rule broken, in words; the other ends are named after it.
            others: the facts of other nodes involved (None entries are skipped).
        """
        sources = [known for known in others if known is not None and known.node_id != self.node_id]
        names = "; ".join(f"set by {known.where()}" for known in sources)
        self.problem(field_name, message + (f" ({names})" if names else ""))
        # A rule of the node as a whole (e.g. the Trainer's "model fits the data") is reported at the other
        # ends without naming the checking node, so the same conflict seen by two nodes shows once there.
        note = f" (conflicts with {Known(None, self.node_id, field_name).where()})" if field_name else ""
        for known in sources:
            self.problem_at(known.node_id, known.field, message + note)


CheckFunction = Callable[[CheckContext], None]


def image_size_problem(size: tuple[int, ...], multiple: int, min_size: int) -> str:
    """Why a network that needs sizes dividing by ``multiple`` (and >= ``min_size``) cannot take ``size``.

    Args:
        size: spatial size of the images.
        multiple: every axis must divide by this.
        min_size: every axis must be at least this.
    """
    shown = "x".join(str(s) for s in size)
    if any(s % multiple for s in size):
        return (f"image size {shown} does not divide by {multiple}, the product of the network's strides "
                "(pad with transforms.DivisiblePad or change the size)")
    if any(s < min_size for s in size):
        return f"image size {shown} is too small for the network: each axis needs at least {min_size}"
    return ""


def nearest_sizes(size: int, multiple: int, min_size: int) -> list[int]:
    """The sizes nearest ``size`` (below and above) that divide by ``multiple`` and are at least ``min_size``.

    Args:
        size: a size that does not fit.
        multiple: every size must divide by this.
        min_size: the smallest size allowed.
    """
    smallest = -(-max(min_size, 1) // multiple) * multiple
    below = size // multiple * multiple
    above = below + multiple if below < size else below
    return sorted({value for value in (below, above) if value >= smallest} or {smallest})


def input_size_problem(size: list[int], model: Facts) -> str:
    """Why a model with facts ``model`` cannot take an input of ``size``, with the nearest sizes it can take.

    Args:
        size: one value for every axis, or one per spatial axis (``mif export --input-size``, *Export Model*).
        model: the facts of the model (``SIZE_MULTIPLE``, ``MIN_SIZE``, ``SPATIAL_DIMS``).
    """
    dims, multiple, minimum = (model.get(name) for name in (Fact.SPATIAL_DIMS, Fact.SIZE_MULTIPLE, Fact.MIN_SIZE))
    if dims is not None and len(size) not in (1, dims.value):
        return f"{len(size)} values for a {dims.value}D model: give one value for every axis, or {dims.value}"
    if multiple is None:
        return ""
    low, step = (minimum.value if minimum is not None else 1), multiple.value
    bad = [value for value in dict.fromkeys(size) if value % step or value < low]
    if not bad:
        return ""
    why = (f"does not divide by {step}, the product of the network's strides" if any(v % step for v in size)
           else f"is too small for the network: each axis needs at least {low}")
    advice = "; ".join(f"{value}: use {' or '.join(map(str, nearest_sizes(value, step, low)))}" for value in bad)
    return f"input size {'x'.join(map(str, size))} {why} ({advice})"


def check_model_on_data(ctx: CheckContext, model_port: str, data_port: str, roi: Known | None = None) -> None:
    """Report a model that cannot take the images on ``data_port``: dims, channels, size.

    Args:
        ctx: the checking node's context.
        model_port: input port carrying the model.
        data_port: input port carrying the data (dataset or loader).
        roi: the window size used instead of the image size (sliding-window inference).
    """
    model, data = ctx.inputs.get(model_port, {}), ctx.inputs.get(data_port, {})
    model_dims, data_dims = model.get(Fact.SPATIAL_DIMS), data.get(Fact.SPATIAL_DIMS)
    if model_dims and data_dims and model_dims.value != data_dims.value:
        ctx.conflict("", f"the model is {model_dims.value}D but the images are {data_dims.value}D",
                     model_dims, data_dims)
        return
    takes, has = model.get(Fact.IN_CHANNELS), data.get(Fact.IMAGE_CHANNELS)
    if takes and has and takes.value != has.value:
        ctx.conflict("", f"the model takes {takes.value} input channel(s) but the images have {has.value}",
                     takes, has)
    multiple, min_size = model.get(Fact.SIZE_MULTIPLE), model.get(Fact.MIN_SIZE)
    size = roi or data.get(Fact.IMAGE_SIZE)
    if multiple is None or size is None:
        return
    problem = image_size_problem(tuple(size.value), multiple.value, min_size.value if min_size else 1)
    if problem:
        if roi is not None:
            ctx.conflict(roi.field, problem.replace("image size", "window size"), multiple)
        else:
            ctx.conflict("", problem, multiple, size)


def check_labels(ctx: CheckContext, port: str, purpose: str) -> None:
    """Report data on ``port`` that is known to carry no labels.

    Args:
        ctx: the checking node's context.
        port: the input port.
        purpose: what needs the labels, e.g. "training".
    """
    labelled = ctx.fact(port, Fact.HAS_LABELS)
    if labelled is not None and not labelled.value:
        because = ctx.fact(port, Fact.UNLABELLED_BECAUSE)
        reason = f": {because.value}" if because is not None else ""
        ctx.conflict("", f"{purpose} needs labelled data, but the data on '{port}' has no labels{reason}", labelled)


def check_no_data(ctx: CheckContext, port: str) -> None:
    """Report an input whose linked output will carry nothing (see ``Fact.NO_DATA``)."""
    empty = ctx.fact(port, Fact.NO_DATA)
    if empty is not None and empty.value:
        ctx.conflict("", f"no data arrives on '{port}': the linked output carries none (is its input linked?)",
                     empty)


__all__ = [
    "CheckContext",
    "CheckFunction",
    "Fact",
    "Facts",
    "Known",
    "StepChain",
    "TransformStep",
    "check_labels",
    "check_model_on_data",
    "check_no_data",
    "image_size_problem",
    "input_size_problem",
    "nearest_sizes",
]
