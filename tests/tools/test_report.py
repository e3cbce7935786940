"""`mif report`: one HTML file whose tables equal metrics.csv and evaluation.csv and whose images decode."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.nodes.evaluation.specs import run_evaluate
from medical_imaging_framework.nodes.inference.specs import Case, PredictionSet
from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.run.executor import Executor, NodeContext
from medical_imaging_framework.tools.report import ReportError, read_evaluation, write_report
from medical_imaging_framework.training.metrics_log import read_metrics
from tests.support.pipelines import make_tiny_graph


class Page(HTMLParser):
    """Tables (rows of cell texts) and image sources of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.images: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs)["src"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _cases() -> PredictionSet:
    cases = []
    for index in range(3):
        label = torch.zeros(1, 16, 16, dtype=torch.int16)
        label[0, 4:12, 4:12] = 1
        prediction = torch.zeros(1, 16, 16, dtype=torch.uint8)
        prediction[0, 4 + index:12, 4:12] = 1
        image = torch.rand(1, 16, 16)
        cases.append(Case(f"case_{index}", image, prediction, np.eye(4), label=label))
    return PredictionSet(cases, num_classes=2)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report") / "ckpt"
    graph = make_tiny_graph(NodeRegistry(), folder, num_epochs=3, save_every_n_epochs=2)
    assert Executor(graph).run().status == "done"
    ctx = NodeContext("evaluate", lambda event: None, CancelToken())
    run_evaluate(ctx, {"predictions": _cases()}, {"output_dir": str(folder)})
    return folder


def test_report_numbers_equal_metrics_and_evaluation(run_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = run_folder.parent / "out" / "run.html"
    assert main(["report", str(run_folder), "-o", str(output)]) == 0
    assert capsys.readouterr().out.strip() == f"Report written: {output}"
    page = Page()
    page.feed(output.read_text(encoding="utf-8"))
    assert len(page.images) == 2  # loss curves, overlays: embedded, nothing else to fetch
    for source in page.images:
        assert source.startswith("data:image/png;base64,")
        with Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))) as picture:
            picture.load()
            assert picture.width > 100 and picture.height > 100
    metrics_table, files_table, evaluation_table, pipeline_table = page.tables
    rows = read_metrics(run_folder / "metrics.csv")
    assert metrics_table[0] == ["epoch", "train_loss", "val_loss", "lr", "seconds"]
    for shown, row in zip(metrics_table[1:], rows, strict=True):
        assert shown[0] == str(int(row["epoch"]))
        assert shown[1:4] == [f"{row['train_loss']:.4f}", f"{row['val_loss']:.4f}", f"{row['lr']:.3g}"]
    assert [row[0] for row in files_table[1:]] == ["best_model.pt", "checkpoint_epoch_2.pt", "final_model.pt"]
    final = torch.load(run_folder / "final_model.pt")
    assert files_table[-1][1:] == ["3", f"{final['loss']:.4f}", f"{final['val_loss']:.4f}"]
    columns, evaluation = read_evaluation(run_folder / "evaluation.csv")
    assert columns == ["name", "grid", "checkpoint", "run_id", "epoch", "dice", "hd95", "missed"]
    assert evaluation_table[0] == ["name", "dice", "hd95", "missed"]  # the grid is said above the table
    assert [row[0] for row in evaluation_table[1:]] == ["case_0", "case_1", "case_2", "mean"]
    for shown, row in zip(evaluation_table[1:], evaluation, strict=True):
        assert shown[1:3] == [f"{float(row['dice']):.4f}", f"{float(row['hd95']):.4f}"]
    assert evaluation_table[1][1] == "1.0000"  # case_0's prediction equals its label
    assert ["trainer", "training.Trainer"] in [row[:2] for row in pipeline_table]


def test_report_of_a_folder_without_a_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"holds no checkpoint and no metrics\.csv"):
        write_report(tmp_path)
    assert main(["report", str(tmp_path / "missing")]) == 2
