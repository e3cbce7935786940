"""The Datalist node: images and labels listed in a Decathlon ``dataset.json`` or a CSV file.

A Medical Segmentation Decathlon file is read with MONAI's ``load_decathlon_datalist`` (its ``training``,
``validation`` or ``test`` list; paths relative to the file). A CSV file has an ``image`` column and an
optional ``label`` column, paths again relative to the file. The items are read and checked like
``io.ImageFolder``'s, so the same downstream nodes take them.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from medical_imaging_framework.core import NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checks import CheckContext, Fact
from medical_imaging_framework.core.node_spec import CachePolicy
from medical_imaging_framework.core.params import path_unreachable
from medical_imaging_framework.core.text import printable
from medical_imaging_framework.nodes.io import readers
from medical_imaging_framework.nodes.io.image_folder_specs import CACHE, MAX_IMAGE_GB, MAX_LISTED, open_pairs
from medical_imaging_framework.nodes.io.labels import LABEL_MAPPING
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.executor import NodeContext

DATALIST_KEYS = ("training", "validation", "test")
Pair = tuple[str, Path, Path | None]


def decathlon_pairs(path: Path, key: str) -> list[Pair]:
    """``(name, image, label)`` of one list of a Decathlon ``dataset.json``.

    Args:
        path: the JSON file.
        key: ``training``, ``validation`` or ``test`` (test items have no label).

    Raises:
        NodeError: unreadable file, missing key, an entry without ``image``, an ``image`` or ``label`` that is not
            one path (a list, a number).
    """
    from monai.data import load_decathlon_datalist

    try:
        items = load_decathlon_datalist(str(path), is_segmentation=True, data_list_key=key)
    except ValueError as error:
        keys = _json_keys(path)
        if key not in keys:
            lists = ", ".join(k for k in keys if k in DATALIST_KEYS) or "none"
            raise NodeError(printable(f"datalist '{path}' has no '{key}' list (lists present: {lists})")) from None
        raise NodeError(printable(f"datalist '{path}': {error}")) from None
    except (OSError, TypeError, KeyError) as error:
        raise NodeError(printable(f"cannot read datalist '{path}': {type(error).__name__}: {error}")) from None
    pairs: list[Pair] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "image" not in item:
            raise NodeError(printable(f"datalist '{path}', '{key}' entry {index}: no 'image' path"))
        for field in ("image", "label"):
            value = item.get(field)
            if value is not None and not isinstance(value, str):
                raise NodeError(printable(
                    f"datalist '{path}', '{key}' entry {index}: '{field}' must be one file path (text), "
                    f"not {_kind_of(value)}"
                ))
        label = item.get("label")
        pairs.append((readers.stem(Path(item["image"])), Path(item["image"]), Path(label) if label else None))
    return pairs


def _kind_of(value: Any) -> str:
    """``a list``, ``a number``, ... for the datalist errors."""
    if isinstance(value, list):
        return f"a list of {len(value)} value{'s' if len(value) != 1 else ''}"
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _json_keys(path: Path) -> list[str]:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise NodeError(printable(f"cannot read datalist '{path}': {error}")) from None
    if not isinstance(data, dict):
        raise NodeError(printable(f"datalist '{path}' must hold a JSON object with a '{DATALIST_KEYS[0]}' list"))
    return list(data)


def csv_pairs(path: Path) -> list[Pair]:
    """``(name, image, label)`` from a CSV file with ``image`` and optional ``label`` columns.

    Args:
        path: the CSV file (paths in it are relative to its folder).

    Raises:
        NodeError: unreadable file, no ``image`` column, an empty image cell.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [name.strip() for name in reader.fieldnames or []]
            rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise NodeError(printable(f"cannot read datalist '{path}': {error}")) from None
    if "image" not in columns:
        raise NodeError(printable(
            f"datalist '{path}' has no 'image' column (columns: {', '.join(columns) or 'none'})"))
    labelled = "label" in columns
    pairs: list[Pair] = []
    for line, row in enumerate(rows, start=2):
        if not row.get("image"):
            raise NodeError(printable(f"datalist '{path}', line {line}: empty 'image' cell"))
        image = path.parent / row["image"]
        label = path.parent / row["label"] if labelled and row.get("label") else None
        if labelled and label is None:
            raise NodeError(printable(f"datalist '{path}', line {line}: empty 'label' cell for '{row['image']}'"))
        pairs.append((readers.stem(image), image, label))
    return pairs


def check_files(pairs: list[Pair], source: Path) -> None:
    """Raise `NodeError` naming every listed image or label that cannot be opened, and why (it does not exist,
    it is a symbolic link loop or a link to nothing, ...): all at once, so one fix pass is enough.

    Args:
        pairs: the listed items.
        source: the datalist file, named in the error.
    """
    problems = [f"{role} '{file}', which {problem}"
                for _, image, label in pairs
                for role, file in (("image", image), ("label", label))
                if file is not None and (problem := path_unreachable(file))]
    if len(problems) == 1:
        raise NodeError(printable(f"datalist '{source}' lists {problems[0]}"))
    if problems:
        shown = "; ".join(problems[:MAX_LISTED])
        more = f"; and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise NodeError(printable(
            f"datalist '{source}' lists {len(problems)} files that cannot be opened: {shown}{more}"))


def csv_columns(path: Path) -> list[str] | None:
    """The column names of a CSV datalist (its first line only), or None when it cannot be read now.

    Args:
        path: the CSV file.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return [name.strip() for name in next(csv.reader(handle), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return None  # the run reports an unreadable file, naming it


def check_datalist(ctx: CheckContext) -> None:
    """Whether the items carry labels: a Decathlon ``test`` list never does, a CSV only with a ``label`` column.

    Only a CSV's first line is read; a file missing or unreadable now is reported when the node runs.
    """
    path = Path(ctx.config["path"]).expanduser()
    if path.suffix.lower() == ".csv":
        columns = csv_columns(path)
        if columns is None or "label" in columns:
            return
        shown = ", ".join(f"'{name}'" for name in columns) or "none"
        because = printable(f"the CSV '{path}' has no 'label' column (its columns: {shown}); name the column "
                            "holding the label files 'label'")
        field = "path"
    elif ctx.config["key"] == "test":
        because = ("the Decathlon 'test' list holds images without labels; set key to 'training' or 'validation' "
                   "to train or evaluate")
        field = "key"
    else:
        return
    ctx.provide("dataset", **{Fact.HAS_LABELS: ctx.known(False, field),
                              Fact.UNLABELLED_BECAUSE: ctx.known(because, field)})


def decathlon_class_names(path: Path) -> tuple[list[str] | None, str]:
    """Class names from a ``dataset.json``'s ``labels`` (``{"0": "background", "1": "liver", ...}``), background
    first, and a warning when ``labels`` is there but unusable (its names are then not used).

    Args:
        path: the JSON file.
    """
    import json

    try:
        labels = json.loads(path.read_text(encoding="utf-8")).get("labels")
    except (OSError, ValueError, AttributeError):
        return None, ""
    if labels is None:
        return None, ""
    names: dict[int, str] = {}
    if isinstance(labels, dict):
        for key, value in labels.items():
            if not (isinstance(key, str) and key.strip().isdigit() and isinstance(value, str) and value.strip()):
                break
            names[int(key)] = value.strip()
        else:
            if sorted(names) == list(range(len(names))) and len(names) >= 2:
                return [names[index] for index in range(len(names))], ""
    return None, printable(f"datalist '{path}': 'labels' is not a map of class indices 0..N-1 to names "
                           "(e.g. {\"0\": \"background\", \"1\": \"liver\"}); classes are shown by number")


def watched_files(config: dict[str, Any]) -> list[str]:
    """The datalist file and every image and label it lists (`run.cache`): a change to any re-reads the data.

    Args:
        config: the node's parsed parameters.
    """
    path = Path(config["path"]).expanduser()
    try:
        pairs = csv_pairs(path) if path.suffix.lower() == ".csv" else decathlon_pairs(path, config["key"])
    except (NodeError, OSError, ValueError):  # the run says what is wrong with the file
        return [str(path)]
    return [str(path)] + [str(file) for _, image, label in pairs for file in (image, label) if file is not None]


def run_datalist(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    path = Path(config["path"]).expanduser()
    if not path.is_file():
        where = "" if path.is_absolute() else f" in {Path.cwd()}"
        raise NodeError(printable(f"datalist '{path}' not found{where}"))
    pairs = csv_pairs(path) if path.suffix.lower() == ".csv" else decathlon_pairs(path, config["key"])
    if not pairs:
        where = "" if path.suffix.lower() == ".csv" else f" under '{config['key']}'"
        raise NodeError(printable(f"datalist '{path}' lists no items{where}"))
    check_files(pairs, path)
    dataset = open_pairs(ctx, pairs, config, printable(f"Datalist {path.name}"))
    if path.suffix.lower() != ".csv":
        dataset.class_names, warning = decathlon_class_names(path)  # tables, evaluation.csv and the report use them
        if warning:
            ctx.log(f"warning: {warning}")
    return {"dataset": dataset}


SPECS = [
    NodeSpec(
        type_id="io.Datalist",
        title="Datalist",
        category="Data",
        run=run_datalist,
        outputs=(Port("dataset", PortKind.DATASET),),
        params=(
            Param("path", ParamKind.PATH, "data/dataset.json", "Datalist file",
                  "A Decathlon dataset.json or a CSV file with image and label columns (paths relative to it).",
                  allow_empty=False),
            Param("key", ParamKind.CHOICE, "training", "List", "Which list of a dataset.json (ignored for CSV).",
                  choices=DATALIST_KEYS),
            CACHE,
            LABEL_MAPPING,
            MAX_IMAGE_GB,
        ),
        description="Images and labels listed in a Decathlon dataset.json (MONAI) or a CSV file.",
        check=check_datalist,
        cache=CachePolicy(watch=watched_files),
    ),
]
