"""What a model kind returns for one input document: a list of named tensors (ML Commons' ModelTensor)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# numpy dtype -> ML Commons MLResultDataType name
DATA_TYPES = {
    np.dtype(np.float32): "FLOAT32",
    np.dtype(np.float64): "FLOAT64",
    np.dtype(np.float16): "FLOAT16",
    np.dtype(np.int64): "INT64",
    np.dtype(np.int32): "INT32",
    np.dtype(np.int8): "INT8",
    np.dtype(np.uint8): "UINT8",
    np.dtype(np.bool_): "BOOLEAN",
}


@dataclass(frozen=True)
class ModelTensor:
    """One output tensor. ``data`` keeps its numpy dtype and shape; rendering decides what to send
    (``data`` list, ``byte_buffer``, ``shape``, ``data_type``). ``data_as_map`` carries map outputs
    (sparse weights, highlights)."""

    name: str | None
    data: np.ndarray | None = None
    data_as_map: dict[str, Any] | None = None

    @property
    def data_type(self) -> str | None:
        if self.data is None:
            return None
        return DATA_TYPES[self.data.dtype]


# One document's output: tensors in the order ML Commons emits them.
ModelTensors = list[ModelTensor]
