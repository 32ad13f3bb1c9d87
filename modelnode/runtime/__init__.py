"""Inference: load a verified artifact and run it. Imports no other modelnode package
(only ``errors``), so it can move into a separate worker process later.

Contract used by ``services``:
  ``load(spec) -> DeployedModel``   blocking (run it in a worker thread); loads and warms up.
  ``await model.predict(inp)``       one ``ModelTensors`` per input document, in order; requests
                                     from many callers share batches (``runtime.batcher``).
  ``model.close()``                  frees the engine; pending predicts fail.
  ``model.healthy``                  false once closed or if its inference worker died.

Errors: ``IllegalArgument`` (bad request, or a function this runtime cannot serve),
``TooManyRequests`` (the model's queue is full), ``ServiceUnavailable`` (closed while waiting),
``ModelLoadError`` / ``MissingDependency`` (from ``load``).
"""

from modelnode.runtime.api import (
    DeployedModel,
    ModelSpec,
    PredictInput,
    QuestionAnsweringInput,
    TextDocsInput,
    TextSimilarityInput,
    load,
)
from modelnode.runtime.tensors import ModelTensor, ModelTensors

__all__ = [
    "DeployedModel",
    "ModelSpec",
    "ModelTensor",
    "ModelTensors",
    "PredictInput",
    "QuestionAnsweringInput",
    "TextDocsInput",
    "TextSimilarityInput",
    "load",
]
