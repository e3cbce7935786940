"""The one rule that names new nodes: readable snake-case ids made from the node type's name.

``models.UNet`` -> ``unet``, ``optim.SGD`` -> ``sgd``, ``losses.DiceCELoss`` -> ``dice_ce_loss``,
``transforms.CTWindow`` -> ``ct_window``, ``data.DataLoader`` -> ``data_loader``; a second one gets
``unet_2``. The canvas, the registry and pipeline edits all call `new_node_id`.
"""

from __future__ import annotations

import re
from collections.abc import Container

from medical_imaging_framework.core.text import printable

NODE_ID_PATTERN = re.compile(r"\A[A-Za-z_][A-Za-z0-9_-]*\Z")  # \Z, not $: "$" also matches before a final "\n"

# A word starts at a capital that follows a lower-case letter or digit (``Data|Loader``), unless that
# capital is the last letter (``AdamW``); and after an acronym of two or more capitals that a
# capitalised word follows (``CT|Window``, ``DiceCE|Loss``). A lone capital before a word stays with it
# (``UNet`` is one word, never ``u_net``).
_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z](?!$))|(?<=[A-Z]{2})(?=[A-Z][a-z])")
_NOT_ID = re.compile(r"[^a-z0-9_]+")


def readable_id(type_id: str) -> str:
    """The base id of a node of ``type_id``: its type name in snake case (``DiceCELoss`` -> ``dice_ce_loss``).

    Args:
        type_id: a node type id such as ``models.UNet`` (the part after the last dot is used).
    """
    name = type_id.rsplit(".", 1)[-1]
    base = _NOT_ID.sub("_", _WORD_BREAK.sub("_", name).lower()).strip("_")
    if not base or base[0].isdigit():
        base = f"node_{base}" if base else "node"
    return base


def new_node_id(type_id: str, taken: Container[str]) -> str:
    """A free id for a new node of ``type_id``: ``unet``, else ``unet_2``, ``unet_3``...

    Args:
        type_id: the node type id.
        taken: ids already in use (a graph's ``nodes`` dict works).
    """
    return free_id(readable_id(type_id), taken)


def free_id(base: str, taken: Container[str]) -> str:
    """``base`` if free, else ``base_2``, ``base_3``... (the numbering every new id follows).

    Args:
        base: the wanted id.
        taken: ids already in use.
    """
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}_{number}", number + 1
    return candidate


def id_refusal(new_id: str, taken: Container[str]) -> str:
    """Why ``new_id`` cannot name a node ("" when it can): the id rule of every pipeline file.

    Args:
        new_id: the wanted id (e.g. typed when renaming a node).
        taken: ids already in use by other nodes.
    """
    if not new_id:
        return "a node id cannot be empty"
    if not NODE_ID_PATTERN.fullmatch(new_id):
        return (f"node id '{printable(new_id)}' must start with a letter or _ and hold only letters, digits, "
                "_ or - (no spaces)")
    if new_id in taken:
        return f"node id '{printable(new_id)}' is already used"
    return ""
