"""``mif runs | head -1``: every mif command that prints, whose reader of stdout has gone, stops quietly like
git (exit 141, no traceback, no error line) (issue 21, runs polish point 2). `mif run` goes on training instead
(`test_stdout_reader_gone`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.tiny import ONE_THREAD

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "support" / "closed_stdout_script.py"


def test_every_printing_command_exits_quietly_when_its_reader_is_gone(tmp_path: Path) -> None:
    env = {**os.environ, **ONE_THREAD, "MIF_RUN_RECORDS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    results = tmp_path / "results.json"
    child = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), str(results)], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=300, check=False)
    assert child.returncode == 0, child.stdout + child.stderr
    assert "Traceback" not in child.stderr and "Exception ignored" not in child.stderr, child.stderr
    found = json.loads(results.read_text(encoding="utf-8"))
    assert len(found) == 9
    for command, result in found.items():
        code = 0 if command.endswith("--help") else 141  # argparse ignores a failed write of its help itself
        assert (command, result["code"], result["stderr"]) == (command, code, ""), result
    assert (tmp_path / "ck" / "report.html").is_file()  # the command did its work; only its output went nowhere
