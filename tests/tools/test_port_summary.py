"""Issue 21 point 3 (ports): the summary of one output value -- a tensor's shape, dtype and range, a sample
image of at most THUMBNAIL pixels a side -- and a value it cannot read named, never raised."""

from __future__ import annotations

import numpy as np
import torch

from medical_imaging_framework.tools.port_summary import THUMBNAIL, summarize


def test_a_tensor_is_named_by_shape_dtype_and_range_with_a_small_picture() -> None:
    tensor = torch.linspace(-2.0, 3.0, 2 * 300 * 200).reshape(2, 300, 200)
    summary = summarize(tensor)
    assert summary.text == "Tensor (2, 300, 200) float32, min -2, max 3"
    assert summary.thumbnail is not None and summary.thumbnail.dtype == np.uint8
    assert max(summary.thumbnail.shape) <= THUMBNAIL and summary.thumbnail.max() > summary.thumbnail.min()


def test_a_value_that_cannot_be_read_is_named_not_raised() -> None:
    class Broken:
        def __len__(self) -> int:
            return 3

        def __getitem__(self, index: int) -> object:
            raise OSError("image file gone")

    assert summarize(Broken()).text == "Broken (no summary: OSError: image file gone)"
