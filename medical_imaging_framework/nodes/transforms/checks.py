"""Validation of transform chains (the `NodeSpec` check hooks of the transform nodes).

Each transform node adds a `TransformStep` to the chain's facts; ``transforms.Apply`` then follows the
image size and dimensionality of its datasets through the steps (random steps on training data only),
reports a step that cannot work on those images at the step's own node and field, and states the
resulting image size for the loaders, Trainer and Predictor downstream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from medical_imaging_framework.core.checks import CheckContext, Fact, Facts, Known, StepChain, TransformStep


def _add_step(ctx: CheckContext, step: TransformStep) -> None:
    previous = ctx.fact("transform", Fact.TRANSFORM_STEPS)
    chain = previous.value.then(step) if previous else StepChain(step)  # linked, not copied: see StepChain
    ctx.provide("transform", **{Fact.TRANSFORM_STEPS: ctx.known(chain)})


def _sized(ctx: CheckContext, op: str, field: str, random: bool = False) -> None:
    size = tuple(ctx.config[field])
    if len(size) not in (2, 3):
        ctx.problem(field, f"needs 2 (2D) or 3 (3D) values, got {len(size)}")
        return
    _add_step(ctx, TransformStep(op, size, ctx.node_id, field, random))


def check_intensity(ctx: CheckContext) -> None:
    """Intensity-only steps keep the shape."""
    _add_step(ctx, TransformStep("intensity", None, ctx.node_id))


def check_ct_window(ctx: CheckContext) -> None:
    """window_min must lie below window_max (preset custom; a preset sets its own window)."""
    low, high = ctx.config["window_min"], ctx.config["window_max"]
    if ctx.config.get("preset", "custom") == "custom" and low >= high:
        message = f"window_min ({low}) must be below window_max ({high})"
        ctx.problem("window_min", message)
        ctx.problem("window_max", message)
    check_intensity(ctx)


def check_resize(ctx: CheckContext) -> None:
    """2 or 3 sizes; the images take that size."""
    _sized(ctx, "resize", "spatial_size")


def check_pad_crop(ctx: CheckContext) -> None:
    """2 or 3 sizes; the images take that size."""
    _sized(ctx, "pad_crop", "spatial_size")


def check_rand_crop(ctx: CheckContext) -> None:
    """2 or 3 sizes; training images shrink to at most that size."""
    _sized(ctx, "random_crop", "roi_size", random=True)


def check_divisible_pad(ctx: CheckContext) -> None:
    """Each image size grows to the next multiple of k."""
    _add_step(ctx, TransformStep("divisible_pad", ctx.config["k"], ctx.node_id, "k"))


def check_flip(ctx: CheckContext) -> None:
    """The flip axis must exist in the images (checked by Apply, which knows them)."""
    axis = ctx.config["spatial_axis"]
    _add_step(ctx, TransformStep("flip", None if axis == "all" else int(axis), ctx.node_id, "spatial_axis", True))


def check_rotate90(ctx: CheckContext) -> None:
    """Rotations swap the first two axes: images whose two first sizes differ change shape."""
    _add_step(ctx, TransformStep("rotate90", None, ctx.node_id, "", True))


_AXES = ({"L", "R"}, {"A", "P"}, {"S", "I"})


def check_orientation(ctx: CheckContext) -> None:
    """2 or 3 axis codes, one of L/R, A/P, S/I each; the axes (and so the size) change."""
    codes = str(ctx.config["axcodes"]).strip().upper()
    axes = [next((i for i, pair in enumerate(_AXES) if code in pair), None) for code in codes]
    if len(codes) not in (2, 3) or None in axes or len(set(axes)) != len(axes):
        ctx.problem("axcodes", f"must be 2 (2D) or 3 (3D) letters, one of L/R, A/P and S/I each (e.g. RAS or LPS), "
                               f"got '{codes}'")
        return
    _add_step(ctx, TransformStep("reorient", codes, ctx.node_id, "axcodes"))


def check_spacing(ctx: CheckContext) -> None:
    """2 or 3 spacings (each > 0, by its parameter's rule); the size changes with the data's own spacing."""
    pixdim = tuple(ctx.config["pixdim"])
    if len(pixdim) not in (2, 3):
        ctx.problem("pixdim", f"needs 2 (2D) or 3 (3D) values in mm, got {len(pixdim)}")
        return
    _add_step(ctx, TransformStep("resample", pixdim, ctx.node_id, "pixdim"))


def check_crop_foreground(ctx: CheckContext) -> None:
    """The size becomes each item's own foreground box."""
    _add_step(ctx, TransformStep("crop_foreground", ctx.config["source"], ctx.node_id, "source"))


def check_pos_neg_crop(ctx: CheckContext) -> None:
    """2 or 3 sizes; pos + neg > 0; training images shrink to at most that size."""
    if ctx.config["pos"] + ctx.config["neg"] <= 0:
        ctx.problem("pos", "pos and neg are both 0: at least one must be above 0")
        ctx.problem("neg", "pos and neg are both 0: at least one must be above 0")
    _sized(ctx, "label_crop", "spatial_size", random=True)


def check_class_crop(ctx: CheckContext) -> None:
    """2 or 3 sizes; ratios not all 0 and one per class when num_classes is given."""
    ratios, classes = list(ctx.config["ratios"]), ctx.config["num_classes"]
    if ratios and not any(ratios):
        ctx.problem("ratios", "are all 0: at least one class must be sampled (leave empty for equal ratios)")
    if ratios and classes and len(ratios) != classes:
        message = f"has {len(ratios)} values but num_classes is {classes}: give one ratio per class, background first"
        ctx.problem("ratios", message)
    if classes == 1:
        ctx.problem("num_classes", "must be 0 (from the ratios or each label) or at least 2 (background and one "
                                   "class)")
    _sized(ctx, "label_crop", "spatial_size", random=True)


def check_clip_zscore(ctx: CheckContext) -> None:
    """clip_min below clip_max (std > 0 is its parameter's rule)."""
    low, high = ctx.config["clip_min"], ctx.config["clip_max"]
    if low >= high:
        message = f"clip_min ({low}) must be below clip_max ({high})"
        ctx.problem("clip_min", message)
        ctx.problem("clip_max", message)
    check_intensity(ctx)


def check_range(low_field: str, high_field: str) -> Callable[[CheckContext], None]:
    """A check that ``low_field`` is at most ``high_field`` (a random range), for a step that keeps the shape.

    Args:
        low_field: the parameter holding the range's low end.
        high_field: the one holding its high end.
    """

    def check(ctx: CheckContext) -> None:
        low, high = ctx.config[low_field], ctx.config[high_field]
        if low > high:
            message = f"{low_field} ({low}) must not be above {high_field} ({high})"
            ctx.problem(low_field, message)
            ctx.problem(high_field, message)
        _add_step(ctx, TransformStep("intensity", None, ctx.node_id, "", True))

    check.__doc__ = f"{low_field} must not be above {high_field}; the shape is kept."
    return check


def check_random_keeps_shape(ctx: CheckContext) -> None:
    """A random step that keeps the shape (affine, smoothing, intensity)."""
    _add_step(ctx, TransformStep("intensity", None, ctx.node_id, "", True))


def check_apply(ctx: CheckContext) -> None:
    """At least one dataset; each step must fit the images; state each output's image size."""
    if "train" not in ctx.inputs and "val" not in ctx.inputs:
        ctx.problem("", "link a dataset to 'train' or 'val' (or both)")
        return
    chain = ctx.fact("transform", Fact.TRANSFORM_STEPS)
    for port, training in (("train", True), ("val", False)):
        if port not in ctx.inputs:
            ctx.provide(port, **{Fact.NO_DATA: ctx.known(True)})
            continue
        facts = ctx.inputs[port]
        outcome = _followed(chain.value if chain else None, training, facts)
        for node_id, field, message in outcome.problems:
            ctx.problem_at(node_id, field, message)
        labels = facts.get(Fact.HAS_LABELS)
        if chain and labels is not None and labels.value is False:  # only then: a long chain is not walked twice
            _label_needs(ctx, chain.value, port, training, labels)
        ctx.outputs[port] = _after(facts, outcome) if outcome.fits else {}


def _label_needs(ctx: CheckContext, chain: StepChain, port: str, training: bool, labels: Known) -> None:
    """Report each step that reads the label (label crops, a foreground crop of the label) on unlabelled data."""
    because = ctx.fact(port, Fact.UNLABELLED_BECAUSE)
    why = f": {because.value}" if because else ""
    for step in chain.steps():
        if (step.op == "label_crop" and training) or (step.op == "crop_foreground" and step.value == "label"):
            field = "source" if step.op == "crop_foreground" else ""
            ctx.problem_at(step.node_id, field, f"reads the label, but the data on '{port}' of node '{ctx.node_id}' "
                           f"has no labels{why} (set by {labels.where()})")


class _Outcome(NamedTuple):
    """What following a chain gave: the images' dims and size after it, or the problems that stopped it."""

    dims: Known | None
    size: Known | None
    problems: tuple[tuple[str, str, str], ...] = ()
    fits: bool = True


def _followed(chain: StepChain | None, training: bool, facts: Facts) -> _Outcome:
    """The outcome of ``chain`` (its random steps only if ``training``) on a dataset with ``facts``.

    Kept on the chain by input, so Apply nodes sharing one chain and one dataset follow it once: a file
    linking one long chain to many Apply nodes would otherwise take time in the product of the two.
    """
    dims, size = facts.get(Fact.SPATIAL_DIMS), facts.get(Fact.IMAGE_SIZE)
    if chain is None:
        return _Outcome(dims, size)
    key = (training, id(dims), id(size))
    kept = chain.followed.get(key)
    if kept is not None and kept[0] is dims and kept[1] is size:  # the same facts, not others at a reused id
        return kept[2]
    outcome = _follow([step for step in chain.steps() if training or not step.random], dims, size)
    chain.followed[key] = (dims, size, outcome)
    return outcome


def _after(facts: Facts, outcome: _Outcome) -> Facts:
    """The dataset's ``facts`` with the dims and size the chain left."""
    facts = dict(facts)
    for name, known in ((Fact.SPATIAL_DIMS, outcome.dims), (Fact.IMAGE_SIZE, outcome.size)):
        if known is None:
            facts.pop(name, None)
        else:
            facts[name] = known
    return facts


def _follow(steps: list[TransformStep], dims: Known | None, size: Known | None) -> _Outcome:
    """The images' dims and size after ``steps``, or the first step that does not fit them."""
    for step in steps:
        if step.op in ("resize", "pad_crop", "random_crop", "label_crop", "reorient", "resample"):
            if dims is not None and len(step.value) != dims.value:
                return _step_conflict(step, f"has {len(step.value)} values but the images are {dims.value}D "
                                      "(give one per axis)", dims)
            dims = dims or Known(len(step.value), step.node_id, step.field)
            if step.op in ("reorient", "resample"):
                size = None  # it depends on each file's own orientation and spacing
            elif step.op in ("random_crop", "label_crop"):
                size = None if size is None else Known(
                    tuple(min(a, b) for a, b in zip(size.value, step.value, strict=True)), step.node_id, step.field
                )
            else:
                size = Known(step.value, step.node_id, step.field)
        elif step.op == "crop_foreground":
            size = None  # each item's own foreground box
        elif step.op == "divisible_pad" and size is not None:
            k = step.value
            size = Known(tuple(-(-s // k) * k for s in size.value), step.node_id, step.field)  # exact for any int
        elif step.op == "flip" and dims is not None and step.value is not None and step.value >= dims.value:
            return _step_conflict(step, f"axis {step.value} does not exist in {dims.value}D images "
                                  f"(use 0..{dims.value - 1} or all)", dims)
        elif step.op == "rotate90" and size is not None and size.value[0] != size.value[1]:
            size = None  # the two first axes swap at random: items differ in size
    return _Outcome(dims, size)


def _step_conflict(step: TransformStep, message: str, other: Known) -> _Outcome:
    problems = [(step.node_id, step.field, f"{message} (images from {other.where()})")]
    if other.node_id != step.node_id:
        problems.append((other.node_id, other.field,
                         f"the images are {other.value}D but node '{step.node_id}' is set for other images "
                         f"({step.field})"))
    return _Outcome(None, None, tuple(problems), fits=False)
