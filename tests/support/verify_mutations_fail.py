"""Manual check (not collected by pytest): each mutation in `mutations.py` makes a run FAIL when validation
is bypassed, on code from before validate learnt the rules (so new parameter rules do not decide it).

    git archive bed53b7 medical_imaging_framework | tar -x -C /tmp/base   # the code before issue 10 §2
    .venv/bin/python tests/support/verify_mutations_fail.py /tmp/base [PIPELINE.json ...]

Tiny settings (few, small phantoms; one epoch; CPU) keep it to a few minutes; each mutation overrides them.
"""
# ruff: noqa: E401, E402, E501, E701, E702, I001
import os, sys, time, tempfile
from pathlib import Path
CODE_ROOT = sys.argv[1]
sys.path.insert(0, CODE_ROOT)
import medical_imaging_framework
assert medical_imaging_framework.__file__.startswith(CODE_ROOT), medical_imaging_framework.__file__
import numpy as np, nibabel as nib
from medical_imaging_framework.core import NodeRegistry, load_pipeline, Graph, ParamError
from medical_imaging_framework.run.executor import Executor
sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutations import MUTATIONS
Graph.validate = lambda self: []
R = NodeRegistry()
PIPES = Path(CODE_ROOT) / "medical_imaging_framework" / "resources" / "pipelines"
work = Path(tempfile.mkdtemp()); os.chdir(work)
TINY = {
 "segmentation_train.json": {"phantoms": {"count": 10, "size": 16}, "train_loader": {"batch_size": 4}, "val_loader": {"batch_size": 4}, "trainer": {"num_epochs": 1, "device": "cpu"}},
 "segmentation_train_3d.json": {"phantoms": {"count": 5, "size": 16}, "trainer": {"num_epochs": 1, "device": "cpu"}, "predictor": {"device": "cpu", "roi_size": [16, 16, 16]}},
 "segmentation_infer.json": {"phantoms": {"count": 10, "size": 16}, "predictor": {"device": "cpu"}},
 "nifti_folder_train.json": {"trainer": {"num_epochs": 1, "device": "cpu"}, "predictor": {"device": "cpu", "roi_size": [16, 16, 16]}, "random_crop": {"roi_size": [16, 16, 16]}},
}
# data for the folder pipeline
for sub in ("images", "labels"):
    (work / "data" / sub).mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
for i in range(5):
    nib.save(nib.Nifti1Image(rng.normal(size=(16, 16, 16)).astype(np.float32), np.eye(4)), str(work / f"data/images/c{i}.nii.gz"))
    nib.save(nib.Nifti1Image((rng.random((16, 16, 16)) > 0.5).astype(np.float32), np.eye(4)), str(work / f"data/labels/c{i}.nii.gz"))

def build(name, mutation=None):
    g = load_pipeline(PIPES / name, R)
    for nid, s in TINY[name].items():
        g.nodes[nid].config.update(s)
    if name == "segmentation_infer.json":
        g.nodes["load_checkpoint"].config["path"] = str(work / "ck_infer" / "best_model.pt")
    if mutation:
        nid, field, value = mutation
        try:
            g.nodes[nid].set_param(field, value)
            how = "accepted by old param rules"
        except ParamError:
            g.nodes[nid].config[field] = value
            how = "refused by old param rules"
    else:
        how = "baseline"
    if "trainer" in g.nodes and not (mutation and mutation[:2] == ("trainer", "checkpoint_dir")):
        g.nodes["trainer"].config["checkpoint_dir"] = str(work / "ck" / name)
    return g, how

# checkpoint for the inference pipeline
g = load_pipeline(PIPES / "segmentation_train.json", R)
for nid, s in TINY["segmentation_train.json"].items(): g.nodes[nid].config.update(s)
g.nodes["trainer"].config["checkpoint_dir"] = str(work / "ck_infer")
assert Executor(g).run().status == "done"

only = sys.argv[2:] or list(MUTATIONS)
summary = {}
for name in only:
    t = time.time(); r = Executor(build(name)[0]).run()
    print(f"BASELINE {name}: {r.status} {r.error[:100]} ({time.time()-t:.1f}s)", flush=True)
    for m in MUTATIONS[name]:
        t = time.time()
        g, how = build(name, m)
        r = Executor(g).run()
        ok = r.status == "failed"
        summary.setdefault(name, []).append(ok)
        print(f"  {'FAILS' if ok else 'RUNS!'} {m[0]}.{m[1]}={m[2][:20]!r} [{how}] -> {r.failed_node}: {r.error[:110]} ({time.time()-t:.1f}s)", flush=True)
print({k: f"{sum(v)}/{len(v)} fail at run time" for k, v in summary.items()})
