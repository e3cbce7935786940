"""Image files whose headers declare huge images are refused from the header, naming the file and its declared size.

Each hostile file is written here (a few bytes to a MB on disk) and read by `load_image` in one child process
under a 2 GiB address-space limit (``RLIMIT_AS``): the refusal must come from the header, before the reader
allocates the voxels. Before the header check the same reads ended in ``MemoryError`` (or in Pillow's pixel-count
refusal), or read a bomb to the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from medical_imaging_framework.nodes.io.image_limits import ImageLimit, image_limit
from medical_imaging_framework.nodes.io.image_loading import load_image
from medical_imaging_framework.nodes.io.readers import ReadError
from tests.support import hostile_images as hostile

ADDRESS_SPACE = 2 << 30
TRUNCATED = "the file is truncated or its header is wrong"
OVER_LIMIT = "allowed for one image (a quarter of the"

# file name: (writer, what the refusal must say besides the file name)
HOSTILE: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "nrrd_1000cubed.nrrd": (lambda p: hostile.write_nrrd(p, (1000, 1000, 1000)),
                            ("declares 1000 × 1000 × 1000 voxels of float (4.00 GB)", TRUNCATED)),
    "metaimage_1000cubed.mha": (lambda p: hostile.write_metaimage(p, (1000, 1000, 1000)),
                                ("declares 1000 × 1000 × 1000 voxels of float (4.00 GB)", TRUNCATED)),
    "nifti_2gb.nii.gz": (lambda p: hostile.write_nifti(p, (1024, 1024, 512)),
                         ("declares 1024 × 1024 × 512 voxels of float32 (2.15 GB)", TRUNCATED)),
    "nifti_2gb.nii": (lambda p: hostile.write_nifti(p, (1024, 1024, 512)),
                      ("declares 1024 × 1024 × 512 voxels of float32 (2.15 GB)", TRUNCATED)),
    "gzip_bomb_640cubed.nii.gz": (lambda p: hostile.write_nifti_bomb(p, (640, 640, 640)),
                                  ("declares 640 × 640 × 640 voxels of float32 (1.05 GB)", OVER_LIMIT)),
    "png_12000.png": (lambda p: hostile.write_png(p, 12000, 12000, rows=200),
                      ("declares 12000 × 12000 voxels of uint8 (144 MB)", TRUNCATED)),
    "png_bomb_16000.png": (lambda p: hostile.write_png(p, 16000, 16000),
                           ("declares 16000 × 16000 voxels of uint8 (256 MB)", OVER_LIMIT)),
    "tiff_100000.tif": (lambda p: hostile.write_tiff(p, 100000, 100000),
                        ("declares 100000 × 100000 voxels of uint8 (10.0 GB)", TRUNCATED)),
    "dicom_30000.dcm": (lambda p: hostile.write_dicom(p, 30000, 30000, frames=100),
                        ("declares 30000 × 30000 × 100 voxels of 16-bit (180 GB)", TRUNCATED)),
}

CHILD = textwrap.dedent("""
    import gc, json, resource, sys, time
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    from medical_imaging_framework.nodes.io.image_loading import load_image
    for name in sys.argv[1:]:
        started = time.perf_counter()
        try:
            load_image(Path(name))
            outcome = "read"
        except BaseException as error:
            outcome = f"{{type(error).__name__}}: {{error}}"
        print(json.dumps({{"file": name, "outcome": outcome, "seconds": time.perf_counter() - started}}), flush=True)
    gc.freeze()  # as `mif` does at exit: Python's last collection of the torch and MONAI heap took 2-3 s
""")


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each hostile file's outcome, read in one child process under a 2 GiB address-space limit."""
    folder = tmp_path_factory.mktemp("hostile_images")
    paths = [writer(folder / name) for name, (writer, _) in HOSTILE.items()]
    child = subprocess.run(
        [sys.executable, "-c", CHILD.format(limit=ADDRESS_SPACE), *map(str, paths)],
        capture_output=True, text=True, timeout=600, cwd=Path(__file__).parents[2],
    )
    results = [json.loads(line) for line in child.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(paths), child.stderr[-3000:]
    return {Path(result["file"]).name: result["outcome"] for result in results}


@pytest.mark.parametrize("name", HOSTILE)
def test_huge_declared_image_is_refused_from_its_header(refusals: dict[str, str], name: str) -> None:
    outcome = refusals[name]
    assert outcome.startswith("ReadError: '"), outcome
    assert f"{name}' declares" in outcome
    for words in HOSTILE[name][1]:
        assert words in outcome, outcome


def test_a_raised_limit_reads_what_the_default_refuses(tmp_path: Path) -> None:
    path = hostile.write_nifti_bomb(tmp_path / "zeros.nii.gz", (64, 64, 16))
    with pytest.raises(ReadError, match=r"zeros\.nii\.gz' declares 64 × 64 × 16 voxels of float32 \(262 KB\): read "
                                        r"as float32 it would take 262 KB of memory, more than the 100 KB allowed for "
                                        r"one image \(max_image_gb 0\.0001\); set the node's max_image_gb"):
        load_image(path, limit=image_limit(0.0001))
    assert tuple(load_image(path, limit=image_limit(0.001)).shape) == (1, 64, 64, 16)
    assert tuple(load_image(path, limit=ImageLimit(None, "unknown")).shape) == (1, 64, 64, 16)


def test_pillows_pixel_count_guard_gives_way_to_the_byte_limit(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # A 100 x 100 PNG is a "decompression bomb" to Pillow with MAX_IMAGE_PIXELS = 1000 (refused above twice that);
    # the byte limit, which the file is well within, decides instead, and Pillow's setting is left as it was.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    path = hostile.write_png(tmp_path / "zeros.png", 100, 100)
    notes: list[str] = []
    assert tuple(load_image(path, notes=notes).shape) == (1, 100, 100)
    assert notes == []
    assert Image.MAX_IMAGE_PIXELS == 1000


def test_itk_errors_lose_their_build_paths(tmp_path: Path) -> None:
    path = tmp_path / "bad_type.nrrd"
    path.write_bytes(b"NRRD0004\ntype: flo\ndimension: 3\nsizes: 10 10 10\nencoding: raw\n\n" + bytes(4000))
    with pytest.raises(ReadError) as refused:
        load_image(path)
    message = str(refused.value)
    assert message.startswith(f"cannot read '{path}': RuntimeError: ")
    assert "couldn't parse type" in message, message
    assert ".cxx" not in message and "/ITK/" not in message and "(0x" not in message, message


def test_intact_nrrd_and_metaimage_pass_the_header_check_up_to_the_limit(tmp_path: Path) -> None:
    nrrd = hostile.write_nrrd(tmp_path / "zeros.nrrd", (10, 10, 10), encoding="gzip")
    mha = hostile.write_metaimage(tmp_path / "zeros.mha", (10, 10, 10))
    for path in (nrrd, mha):
        assert tuple(load_image(path).shape) == (1, 10, 10, 10)
        with pytest.raises(ReadError, match=rf"{path.name}' declares 10 × 10 × 10 voxels of float \(4.00 KB\): read "
                                            r"as float32 it would take 4.00 KB of memory, more than the 1.00 KB"):
            load_image(path, limit=image_limit(1e-6))
