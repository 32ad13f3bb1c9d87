"""TorchScript backend: ``torch.jit.load`` only (an artifact is data, never pickled code).

Two calling conventions exist among ML Commons artifacts, told apart by the traced signature:
a traced SentenceTransformer takes one ``Dict[str, Tensor]`` and returns its feature dict; a traced
Hugging Face model takes positional tensors (``input_ids, attention_mask, ...``) and returns a
tuple whose first item is the token embeddings.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from modelnode import errors

# What a traced SentenceTransformer is fed: opensearch-py-ml traces it with exactly these keys.
_DICT_INPUTS = ("input_ids", "attention_mask")


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise errors.MissingDependency(
            "TorchScript models need PyTorch, which is not installed: pip install 'modelnode[torch]'"
        ) from exc
    return torch


class TorchScriptBackend:
    def __init__(self, model_path: Path, *, device: str = "cpu") -> None:
        torch = _import_torch()
        self._torch = torch
        self._device = torch.device(device)
        if self._device.type == "cuda" and not torch.cuda.is_available():
            raise errors.ModelLoadError(
                f"device [{device}] was asked for, but this torch build sees no CUDA GPU; deploy on cpu"
            )
        self._module = torch.jit.load(str(model_path), map_location=self._device)
        self._module.eval()
        args = self._module.forward.schema.arguments[1:]  # [0] is self
        self._dict_input = len(args) == 1 and str(args[0].type).startswith("Dict")
        self.input_names = _DICT_INPUTS if self._dict_input else tuple(a.name for a in args)

    def run(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        missing = [n for n in self.input_names if n not in feed]
        if missing:
            raise errors.ModelLoadError(
                f"the TorchScript model needs inputs {missing} that this runtime does not produce"
            )
        tensors = {n: torch.from_numpy(np.ascontiguousarray(feed[n])).to(self._device) for n in self.input_names}
        with torch.inference_mode():
            out = self._module(tensors) if self._dict_input else self._module(*tensors.values())
        return _to_numpy(out)

    def close(self) -> None:
        self._module = None
        if self._device.type == "cuda":
            self._torch.cuda.empty_cache()


def _to_numpy(out: Any) -> dict[str, np.ndarray]:
    if isinstance(out, dict):
        items = list(out.items())
    elif isinstance(out, (tuple, list)):
        items = [(f"output_{i}", v) for i, v in enumerate(out)]
    else:
        items = [("output_0", out)]
    # Keep tensors only (a traced dict may carry other values); detach from the device.
    return {str(k): v.detach().cpu().numpy() for k, v in items if hasattr(v, "detach")}
