"""`mif export` and `mif inspect` on checkpoints that lie about what they hold.

Before: `mif export` built whatever network the checkpoint's stored pipeline described before comparing it with
the weights (channels 4096 took 987 MB; 65,536 would have allocated 154 GB); `mif inspect` said `Intact: yes`
for a file whose optimizer state `resume_from` refuses.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.executor import Executor
from tests.support.pipelines import make_tiny_graph

LIMIT_BYTES = 3 << 30
TIMEOUT_S = 180  # torch and MONAI are imported on a loaded 2-core machine
NOT_FIT = ("field 'optimizer_state_dict': the optimizer state does not fit this optimizer: loaded state dict "
           "contains a parameter group that doesn't match the size of optimizer's group")

CHILD = """
import contextlib, io, json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from medical_imaging_framework.cli.main import main

err = io.StringIO()
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
    code = main(["export", sys.argv[1], "--format", "torchscript", "-o", sys.argv[2], "--input-size", "32"])
print(json.dumps({{"exit": code, "stderr": err.getvalue()}}))
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The final checkpoint of one epoch of the tiny pipeline (it stores that pipeline)."""
    folder = tmp_path_factory.mktemp("trained")
    assert Executor(make_tiny_graph(NodeRegistry(), folder / "ckpt", num_epochs=1)).run().status == "done"
    return folder / "ckpt" / "final_model.pt"


def _changed(source: Path, target: Path, change: object) -> Path:
    data = torch.load(source)
    change(data)  # type: ignore[operator]
    torch.save(data, target)
    return target


def _huge_unet(data: dict[str, object]) -> None:
    pipeline = copy.deepcopy(data["pipeline"])
    unet = next(node for node in pipeline["nodes"] if node["id"] == "unet")  # type: ignore[index]
    unet["params"].update(channels=[65536, 65536, 65536])  # 154 GB of weights if built
    data["pipeline"] = pipeline


def test_export_compares_the_stored_architecture_before_building_it(trained: Path) -> None:
    hostile = _changed(trained, trained.parent.parent / "huge_unet.pt", _huge_unet)
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(limit=LIMIT_BYTES), str(hostile), str(hostile.parent / "model.ts")],
        capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["exit"] == 2, result
    message = result["stderr"]
    assert message.startswith(f"error: {hostile}: the checkpoint's weights do not fit this model "
                              "(a different architecture?); "), message
    assert "size mismatch: model.0.conv.unit0.conv.weight (checkpoint (4, 1, 3, 3), model (65536, 1, 3, 3))" \
        in message, message
    assert not (hostile.parent / "model.ts").exists()


def _one_parameter_fewer(data: dict[str, object]) -> None:
    state = data["optimizer_state_dict"]
    ids = state["param_groups"][0]["params"]  # type: ignore[index]
    state["param_groups"][0]["params"] = ids[:-1]  # type: ignore[index]
    state["state"].pop(ids[-1], None)  # type: ignore[index]


def test_inspect_refuses_an_optimizer_state_that_resume_refuses(
    trained: Path, registry: NodeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = _changed(trained, trained.parent.parent / "one_fewer.pt", _one_parameter_fewer)
    result = Executor(make_tiny_graph(registry, "", num_epochs=2, resume_from=str(hostile))).run()
    assert result.status == "failed" and result.error == f"resume_from: {hostile}: {NOT_FIT}"
    assert main(["inspect", str(hostile)]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == f"Intact: no ({NOT_FIT})"
    assert err == f"error: {hostile}: {NOT_FIT}\n"
    assert main(["inspect", str(trained)]) == 0  # the file it was made from resumes, and says so
    assert capsys.readouterr().out.splitlines()[-1].startswith("Intact: yes (all ")
