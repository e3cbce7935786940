"""`mif report` on hostile inputs: a bad metrics.csv, evaluation.csv or evaluation_samples.npz leaves its section
out, with one line naming the file and the rule, and the rest of the report is written.

Before: 'abc' in metrics.csv ended with a bare ValueError; a 1 KB npz whose prediction holds 2e8 grew to
11.3 GB drawing 2e8 contour levels; a 2 MB npz deflating to 2 GiB was read whole (22 GB and the OOM killer).
Every case runs in one child process under a 3 GB address-space cap and a timeout, and must return.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medical_imaging_framework.tools.report_figures import overlay_grid_png
from tests.support.hostile_report_files import HOSTILE_REPORT_INPUTS, write_report_folder

LIMIT_BYTES = 3 << 30
TIMEOUT_S = 180  # torch and matplotlib are imported on a loaded 2-core machine; each report takes about a second

CHILD = """
import contextlib, io, json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from medical_imaging_framework.cli.main import main

results = {{}}
for folder in sys.argv[1:]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["report", folder])
    results[folder] = {{"exit": code, "stderr": err.getvalue()}}
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, object]]]:
    """``mif report`` on one folder per hostile kind, all in one capped child process: the folder, and the
    exit code and stderr."""
    root = tmp_path_factory.mktemp("hostile_reports")
    folders = {kind: root / kind for kind in HOSTILE_REPORT_INPUTS}
    for kind, folder in folders.items():
        write_report_folder(folder, kind)
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(limit=LIMIT_BYTES), *map(str, folders.values())],
        capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.splitlines()[-1])
    return {kind: (folder, results[str(folder)]) for kind, folder in folders.items()}


@pytest.mark.parametrize("kind", sorted(HOSTILE_REPORT_INPUTS))
def test_a_bad_input_file_leaves_only_its_section_out(
    reports: dict[str, tuple[Path, dict[str, object]]], kind: str
) -> None:
    _, name, section, rule = HOSTILE_REPORT_INPUTS[kind]
    folder, result = reports[kind]
    path = folder / name
    assert result["exit"] == 0, result
    lines = str(result["stderr"]).splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith((f"warning: {path}: ", f"warning: {path}, line ")), lines
    assert rule in lines[0], lines
    assert lines[0].endswith(f" ({section} left out of the report)"), lines
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert page.count("<p>Left out: ") == 1
    assert ('alt="loss curves"' in page) == (section != "the loss curves")
    assert ("<td>case_0</td>" in page) == (section != "the evaluation table")
    assert ('alt="sample overlays"' in page) == (section != "the sample overlays")


def test_outlines_are_drawn_between_the_classes_present(monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.axes import Axes

    drawn: list[tuple[tuple[int, ...], list[float]]] = []
    monkeypatch.setattr(Axes, "contour", lambda axes, mask, levels, **style: drawn.append((mask.shape, list(levels))))
    prediction = np.zeros((600, 40), dtype=np.float32)
    prediction[100:300, 10:30] = 3  # classes 0 and 3: one outline (of class 3's mask), not one per level between
    png = overlay_grid_png([{"name": "case", "prediction": prediction, "label": prediction, "image": None}])
    assert png.startswith(b"\x89PNG")
    assert drawn == [((20, 300), [0.5])] * 2  # label and prediction; (x, y) shown as (y, x), every 2nd pixel


def test_overlay_titles_stay_inside_the_picture(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plane's title names case, class and slice ('case_06: liver_lesion (slice 27 of 52): image'): as one line it
    ran off the picture's left edge; every title must lie inside the figure, whole."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    import medical_imaging_framework.tools.report_figures as figures

    drawn: list = []
    monkeypatch.setattr(figures, "_png", lambda figure: drawn.append(figure) or b"")
    plane = np.zeros((52, 48), np.float32)
    plane[10:20, 10:20], plane[30:35, 30:35] = 1, 2
    names = ["case_06: liver (slice 26 of 52)", "case_06: liver_lesion (slice 27 of 52)",
             "a_rather_long_case_name_from_a_hospital_export_0001: liver_lesion (slice 127 of 252)"]
    overlay_grid_png([{"name": name, "image": plane, "label": plane, "prediction": plane} for name in names])
    figure = drawn[0]
    renderer = FigureCanvasAgg(figure).get_renderer()
    width, height = figure.bbox.width, figure.bbox.height
    titles = [axes.title for axes in figure.axes]
    def letters(text: str) -> str:  # a wrapped title reads the same but for its line breaks
        return "".join(text.split())

    assert [letters(title.get_text()) for title in titles[::3]] == [letters(f"{name}: image") for name in names]
    for title in titles:
        box = title.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= width and box.y0 >= 0 and box.y1 <= height, (title.get_text(), box)
    for row in range(len(names)):  # and none runs into its neighbour's
        boxes = [title.get_window_extent(renderer) for title in titles[row * 3:row * 3 + 3]]
        assert boxes[0].x1 <= boxes[1].x0 and boxes[1].x1 <= boxes[2].x0, names[row]
