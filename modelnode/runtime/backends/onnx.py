"""ONNX Runtime backend."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from modelnode import errors


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours container/cgroup CPU pinning
    except AttributeError:  # pragma: no cover - macOS/Windows
        return os.cpu_count() or 1


def _providers(device: str) -> list[str | tuple[str, dict[str, str]]]:
    import onnxruntime as ort

    if not device.startswith("cuda"):
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise errors.MissingDependency(
            f"device [{device}] needs onnxruntime with CUDA: pip install onnxruntime-gpu "
            "(in place of onnxruntime), or deploy on cpu"
        )
    device_id = device.partition(":")[2] or "0"
    return [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"]


class OnnxBackend:
    def __init__(self, model_path: Path, *, device: str = "cpu", intra_op_threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # One batch runs at a time (the batcher's single worker), so give it the machine's cores
        # and no inter-op pool. No spinning: idle worker threads would otherwise burn the cores the
        # event loop and tokenizer need between batches.
        opts.intra_op_num_threads = intra_op_threads or _cpu_count()
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(model_path), sess_options=opts, providers=_providers(device))
        self.input_names = tuple(i.name for i in self._session.get_inputs())
        # Some exports take int32 ids; cast rather than fail.
        self._dtypes = {i.name: np.int32 if i.type == "tensor(int32)" else None for i in self._session.get_inputs()}
        self._output_names = [o.name for o in self._session.get_outputs()]

    def run(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = [n for n in self.input_names if n not in feed]
        if missing:
            raise errors.ModelLoadError(f"the ONNX model needs inputs {missing} that this runtime does not produce")
        inputs = {n: feed[n] if self._dtypes[n] is None else feed[n].astype(self._dtypes[n]) for n in self.input_names}
        outputs = self._session.run(self._output_names, inputs)
        return dict(zip(self._output_names, outputs, strict=True))

    def close(self) -> None:
        self._session = None  # type: ignore[assignment]  # frees the native session
