"""`NodeSpec`: everything known about one node type (ports, parameters, run function, check hook).

Kept apart from the registry so that the graph can use it without importing the registry: inside core,
imports go one way (params/ports/checks -> node_spec -> graph -> registry -> pipeline_file -> executor).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from medical_imaging_framework.core.checks import CheckFunction
from medical_imaging_framework.core.params import Param
from medical_imaging_framework.core.ports import Port

RunFunction = Callable[..., dict[str, Any]]

MEMORY, REFERENCE, NEVER = "memory", "reference", "never"


@dataclass(frozen=True)
class CachePolicy:
    """How a node's outputs may be reused by a later run (`run.cache`; docs/gui/RUNS.md).

    Args:
        mode: ``memory`` (the outputs kept in this process, the default), ``reference`` (a small JSON reference
            kept in the working folder's ``.mif/cache``, e.g. a Trainer's checkpoint, from which ``restore``
            rebuilds the outputs in any later process), or ``never`` (runs every time).
        watch: ``watch(config)`` -> the files or folders the node reads, whose size and modification time
            enter its key; None from it: not reusable with this config (e.g. ``resume_from: last``).
        products: ``products(config)`` -> files or folders the node writes; it runs again when one is missing.
        reference: ``reference(outputs)`` -> the JSON-ready reference of a finished run's outputs, or None.
        restore: ``restore(ctx, inputs, config, reference)`` -> the outputs again, or None when the reference
            no longer holds (then the node runs).
        refresh: ``refresh(outputs)``, called before outputs kept in memory go on to a later run (e.g. random
            transforms back to their seed, so that a reused data set gives what a fresh one would).
    """

    mode: str = MEMORY
    watch: Callable[[dict[str, Any]], list[str] | None] | None = None
    products: Callable[[dict[str, Any]], list[str]] | None = None
    reference: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    restore: Callable[..., dict[str, Any] | None] | None = None
    refresh: Callable[[dict[str, Any]], None] | None = None


RUN_EVERY_TIME = CachePolicy(mode=NEVER)


@dataclass(frozen=True)
class NodeSpec:
    """Everything known about one node type.

    Args:
        type_id: stable id used in pipeline files, ``family.Name`` (e.g. ``training.Trainer``).
        title: human title shown on the canvas.
        category: palette group (Data, Transforms, Models, Losses, Optimizers, Training, ...).
        run: ``run(ctx, inputs, config) -> outputs``; ``inputs``/``outputs`` are dicts by port name.
        inputs: input ports.
        outputs: output ports.
        params: parameters, in dialog order.
        description: one paragraph for tooltips and ``mif nodes``.
        check: ``check(ctx)``, the node's own cross-field and neighbour rules (see `core.checks`);
            `Graph.validate` calls it once the node's parameters each passed their own rule.
        placeholder: stands for a node of a type no installed plugin provides (`core.missing_node`): it keeps
            the node's parameters as the file had them and never runs.
        cache: how a later run may reuse its outputs (`CachePolicy`; default: in memory, in this process).
    """

    type_id: str
    title: str
    category: str
    run: RunFunction
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    params: tuple[Param, ...] = ()
    description: str = ""
    check: CheckFunction | None = None
    placeholder: bool = False
    cache: CachePolicy = field(default_factory=CachePolicy)
    _params_by_name: dict[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_params_by_name", {p.name: p for p in self.params})

    def param(self, name: str) -> Param | None:
        """The parameter called ``name``, or None."""
        return self._params_by_name.get(name)

    def input(self, name: str) -> Port | None:
        """The input port called ``name``, or None."""
        return next((p for p in self.inputs if p.name == name), None)

    def output(self, name: str) -> Port | None:
        """The output port called ``name``, or None."""
        return next((p for p in self.outputs if p.name == name), None)

    def port_of_kind(self, kind: str, on_input: bool) -> Port | None:
        """The first input (``on_input``) or output port carrying ``kind``, or None.

        Args:
            kind: a port kind such as ``Model``.
            on_input: look among the inputs (else the outputs).
        """
        return next((p for p in (self.inputs if on_input else self.outputs) if p.kind == kind), None)

    def defaults(self) -> dict[str, Any]:
        """A fresh config dict holding every parameter's default."""
        return {p.name: _copy_default(p.default) for p in self.params}


def _copy_default(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value
