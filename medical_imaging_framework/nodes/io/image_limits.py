"""How large an image may be read, and the check of a header's declared size against it (before any voxel is read).

Two rules, both on what the header declares (`image_headers.Declared`):

- the file must be able to hold its voxels: raw data needs as many bytes on disk as it declares, a deflate
  stream (gzip, zlib) at least 1/1032 of them. A 4 KB NRRD declaring 4 GB is truncated or forged, whatever the
  machine's memory;
- the image as read (float32) must fit the limit: by default a quarter of the memory available when the node
  starts (the least of the free memory, the process's address-space limit and its cgroup's limit), since a
  read peaks at two to three times that size (docs/reliability.md); ``max_image_gb`` sets it instead.

Kept by hand: MONAI's readers and the libraries under them allocate what the header asks for, and Pillow's own
guard counts pixels only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from medical_imaging_framework.nodes.io.image_headers import Declared
from medical_imaging_framework.nodes.io.readers import ReadError

LIMIT_SHARE = 4  # one image may take a quarter of the available memory
GB = 1_000_000_000


@dataclass(frozen=True)
class ImageLimit:
    """The most bytes one image may take once read, and how the refusal names where that figure comes from.

    Args:
        bytes: the limit, or None when the available memory cannot be known (no limit then).
        source: e.g. ``a quarter of the 10.2 GB of memory available`` or ``max_image_gb 20``.
    """

    bytes: int | None
    source: str


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_available() -> int | None:
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text(encoding="ascii").strip()
        if limit == "max":
            return None
        used = int(Path("/sys/fs/cgroup/memory.current").read_text(encoding="ascii"))
        return max(0, int(limit) - used)
    except (OSError, ValueError):
        return None


def _address_space_available() -> int | None:
    """What ``RLIMIT_AS`` (``ulimit -v``) leaves of this process's address space, when it is set."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY:
            return None
        with open("/proc/self/statm", encoding="ascii") as handle:
            mapped = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        return max(0, soft - mapped)
    except (ImportError, OSError, ValueError, IndexError):
        return None


def available_memory() -> int | None:
    """Bytes this process can still allocate: the least of the free memory (``MemAvailable``), its cgroup's
    remaining limit and its address-space limit; None when none of them can be read."""
    known = [value for value in (_meminfo_available(), _cgroup_available(), _address_space_available())
             if value is not None]
    return min(known) if known else None


def image_limit(max_image_gb: float = 0.0) -> ImageLimit:
    """The limit for one image: ``max_image_gb`` when set, else a quarter of the available memory.

    Args:
        max_image_gb: the node's parameter (GB = 10^9 bytes); 0 = automatic.
    """
    if max_image_gb > 0:
        return ImageLimit(int(max_image_gb * GB), f"max_image_gb {max_image_gb:g}")
    available = available_memory()
    if available is None:
        return ImageLimit(None, "the available memory is unknown")
    return ImageLimit(available // LIMIT_SHARE, f"a quarter of the {size_text(available)} of memory available")


def size_text(count: int) -> str:
    """``4.00 GB``, ``21.5 MB``, ``92 B``: decimal units, about three significant figures.

    Args:
        count: a number of bytes.
    """
    for unit, scale in (("GB", GB), ("MB", 1_000_000), ("KB", 1_000)):
        if count >= scale:
            value = count / scale
            return f"{value:.{2 if value < 10 else 1 if value < 100 else 0}f} {unit}"
    return f"{count} B"


def check_declared(path: Path, declared: Declared, limit: ImageLimit) -> None:
    """Refuse ``path`` when its header declares more voxel data than the file can hold or than ``limit`` allows.

    Args:
        path: the file, named in the error.
        declared: what its header declares.
        limit: the most bytes one image may take once read.

    Raises:
        ReadError: naming the file, its declared shape, type and size, and the rule broken.
    """
    what = (f"'{path}' declares {' × '.join(str(size) for size in declared.shape)} voxels of "
            f"{declared.type_name} ({size_text(declared.nbytes)})")
    if declared.stored is not None and declared.expansion is not None:
        room = declared.stored * declared.expansion
        if declared.nbytes > room:
            held = (f"its {declared.storage} voxel data can hold at most {size_text(room)} "
                    f"({size_text(declared.stored)} on disk)" if declared.expansion > 1
                    else f"the file holds only {size_text(declared.stored)} of voxel data")
            raise ReadError(f"{what}, but {held}: the file is truncated or its header is wrong")
    if limit.bytes is not None and declared.loaded_bytes > limit.bytes:
        raise ReadError(
            f"{what}: read as float32 it would take {size_text(declared.loaded_bytes)} of memory, more than the "
            f"{size_text(limit.bytes)} allowed for one image ({limit.source}); set the node's max_image_gb "
            "to read larger images"
        )
