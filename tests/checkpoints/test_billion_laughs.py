"""A 'billion laughs' checkpoint: ``L = [L, L]`` 30 levels deep in its config, about 40 KB on disk.

Pickle stores each shared list once, so the file is small, but a walk of its values reaches 2^31 lists.
Before the schema counted the values it walks, ``resume_from=last`` ran for 906 s (ignoring Stop) and
``mif report`` until it was killed. Every reader runs here in one child process under a 3 GB address-space
cap and a timeout, and must return with a message naming the file, the field and the rule.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from medical_imaging_framework.core import NodeRegistry
from tests.support.hostile_files import hostile_writers, write_good_checkpoint

LIMIT_BYTES = 3 << 30
TIMEOUT_S = 120  # the child imports torch on a loaded 2-core machine; refusing takes milliseconds
RULE = ("field 'config.laugh[0][0][0][0][0][0][0][0][0][...': the checkpoint's lists and dicts hold more than "
        "1,000,000 values (counting a shared list each time it is reached: a 'billion laughs' file?)")

CHILD = """
import contextlib, io, json, resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from medical_imaging_framework.checkpoints.files import CheckpointError, find_last_checkpoint, read_checkpoint
from medical_imaging_framework.cli.main import main

folder = Path(sys.argv[1])
laugh = folder / "checkpoint_epoch_2.pt"
result = {{}}
try:
    read_checkpoint(laugh, map_location="cpu")
except CheckpointError as error:
    result["read"] = str(error)
result["last"] = str(find_last_checkpoint(folder))
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    result["inspect_exit"] = main(["inspect", str(laugh)])
    result["report_exit"] = main(["report", str(folder)])
result["stdout"], result["stderr"] = out.getvalue(), err.getvalue()
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder: an intact epoch-1 checkpoint and a billion-laughs epoch-2 one (newest)."""
    root = tmp_path_factory.mktemp("laughs")
    good = root / "checkpoint_epoch_1.pt"
    write_good_checkpoint(NodeRegistry(), good)
    hostile_writers(good, root / "marker.txt")["billion_laughs"](root / "checkpoint_epoch_2.pt")
    shutil.copy(good, root / "good.bak")  # not a checkpoint name: only the two above are read
    return root


def test_billion_laughs_is_refused_by_every_reader_at_once(folder: Path) -> None:
    laugh = folder / "checkpoint_epoch_2.pt"
    assert laugh.stat().st_size < 100_000, "a small file; 2^31 lists once walked"
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(limit=LIMIT_BYTES), str(folder)],
        capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["read"] == f"{laugh}: {RULE}"
    assert result["last"] == str(folder / "checkpoint_epoch_1.pt"), "resume_from=last skips it for the intact file"
    assert result["inspect_exit"] == 2
    assert f"error: {laugh}: {RULE}\n" in result["stderr"]
    assert "Traceback" not in result["stderr"]
    assert result["report_exit"] == 0
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert '<td>checkpoint_epoch_2.pt</td><td class="num">unreadable</td>' in report
    assert "a &#x27;billion laughs&#x27; file?" in report
