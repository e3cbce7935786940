"""Large hostile pipeline texts, built in memory (never checked in): for the linear-validation tests and
``bench/pipeline_validation_scale.py``."""

from __future__ import annotations

import json
from typing import Any


def transform_chain_text(transforms: int, applies: int = 1, bad_step: int = -1) -> str:
    """A pipeline file: 64-pixel 2D phantoms, a chain of ``transforms`` transform nodes (``t0`` first:
    Pad to Multiple and Normalize Intensity in turn), then ``applies`` Apply nodes that each take the whole
    chain and the phantoms.

    Args:
        transforms: nodes in the chain.
        applies: Apply nodes sharing the chain (``apply0``, ``apply1``...).
        bad_step: the index of a node made a Resize to 64x64x64 (3 values for 2D images); -1 for none.
    """
    nodes: list[dict[str, Any]] = [{"id": "phantoms", "type": "data.SyntheticPhantoms", "params": {"size": 64}}]
    links = []
    for index in range(transforms):
        if index == bad_step:
            nodes.append({"id": f"t{index}", "type": "transforms.Resize", "params": {"spatial_size": [64, 64, 64]}})
        elif index % 2:
            nodes.append({"id": f"t{index}", "type": "transforms.NormalizeIntensity"})
        else:
            nodes.append({"id": f"t{index}", "type": "transforms.DivisiblePad", "params": {"k": 16}})
        if index:
            links.append({"from": f"t{index - 1}.transform", "to": f"t{index}.transform"})
    for index in range(applies):
        nodes.append({"id": f"apply{index}", "type": "transforms.Apply"})
        links += [{"from": f"t{transforms - 1}.transform", "to": f"apply{index}.transform"},
                  {"from": "phantoms.dataset", "to": f"apply{index}.train"}]
    return json.dumps({"format": "mif-pipeline", "version": 1, "nodes": nodes, "links": links})


def escaped_quotes_text(kib: int) -> str:
    """65 opening brackets (more than the 64 levels the loader cuts), then ``kib`` KiB of ``\\"``: an
    unclosed string whose every escaped quote a string regex would try again from.

    Args:
        kib: size of the escaped quotes, in KiB.
    """
    return "[" * 65 + '\\"' * (kib * 512)
