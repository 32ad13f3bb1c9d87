"""The search engine's ``Encoder`` over the deployed models, and the built-in neural-sparse analyzers.

``ModelEncoder`` reaches models only through ``Deployments.predict`` (the same path as the predict
API: enabled/deployed checks, the model's rate limiter, stats), after checking that the model's
function fits the call. Asymmetric embedding models (``query_prefix``/``passage_prefix``) get
``content_type`` PASSAGE from the ingest encoder and QUERY from ``for_queries()`` (the one the
search rewrite uses; its results are cached per (model, text) in ``rewrite.EmbeddingCache``).

``SparseAnalyzers``: ``bert-uncased`` and ``mbert-uncased`` (the default analyzers of
``neural_sparse``) are ML Commons' analyzer zips run by the runtime's SPARSE_TOKENIZE kind, loaded
on first use from the shared model folder.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from modelnode import runtime
from modelnode.artifacts import ArtifactStore, sha256_file
from modelnode.artifacts.build import WeightSource
from modelnode.errors import IllegalArgument, ModelNodeError
from modelnode.services.deployments import Deployments, Loader
from modelnode.services.models import Models
from modelnode.storage import MLModel
from modelnode.tasks import run_in_thread

log = logging.getLogger("modelnode.search")

SPARSE_FUNCTIONS = ("SPARSE_ENCODING", "SPARSE_TOKENIZE")
# Built-in analyzer name -> ML Commons' analyzer zip in the shared model folder (../shared/models.md).
ANALYZER_ZIPS = {
    "bert-uncased": "models/opensearch-bert-uncased-idf.zip",
    "mbert-uncased": "models/opensearch-mbert-uncased-idf.zip",
}


def _wrong_function(model_id: str, function_name: str, wanted: str, use: str) -> IllegalArgument:
    return IllegalArgument(f"Model [{model_id}] is a {function_name} model; {use} needs a {wanted} model")


class ModelEncoder:
    """``search.encoder.Encoder`` over ``Deployments``."""

    def __init__(self, models: Models, deployments: Deployments, *, content_type: str = "PASSAGE") -> None:
        self.models = models
        self.deployments = deployments
        self.content_type = content_type

    def for_queries(self) -> ModelEncoder:
        return ModelEncoder(self.models, self.deployments, content_type="QUERY")

    def function_name(self, model_id: str) -> str:
        return self.models.require(model_id).algorithm or "TEXT_EMBEDDING"

    async def _predict(self, model_id: str, model: MLModel, body: dict[str, Any]) -> list[dict[str, Any]]:
        # The same checks as _predict over REST, on the record already read here.
        self.models.check_local_enabled()
        out = await self.deployments.predict_model(None, model_id, model, body)
        return out["inference_results"]

    async def text_embedding(self, model_id: str, texts: list[str]) -> list[list[float]]:
        model = self.models.require(model_id)
        function = model.algorithm or "TEXT_EMBEDDING"
        if function != "TEXT_EMBEDDING":
            raise _wrong_function(model_id, function, "TEXT_EMBEDDING", "dense embedding (text_embedding, neural)")
        if not texts:
            return []
        body: dict[str, Any] = {"text_docs": list(texts), "target_response": ["sentence_embedding"]}
        config = model.model_config or {}
        if config.get("query_prefix") is not None or config.get("passage_prefix") is not None:
            body["parameters"] = {"content_type": self.content_type}
        results = await self._predict(model_id, model, body)
        vectors: list[Any] = []
        for result in results:
            tensors = [t for t in result["output"] if t.get("name") == "sentence_embedding"] or result["output"]
            if not tensors or tensors[0].get("data") is None:
                raise ModelNodeError(
                    f"model [{model_id}] returned no sentence_embedding", status=500, error_type="m_l_exception"
                )
            vectors.append(np.asarray(tensors[0]["data"], dtype=np.float32))  # (dim,)
        return vectors

    async def sparse_encoding(self, model_id: str, texts: list[str]) -> list[dict[str, float]]:
        model = self.models.require(model_id)
        function = model.algorithm or "TEXT_EMBEDDING"
        if function not in SPARSE_FUNCTIONS:
            raise _wrong_function(
                model_id,
                function,
                "SPARSE_ENCODING or SPARSE_TOKENIZE",
                "sparse encoding (sparse_encoding, neural_sparse)",
            )
        if not texts:
            return []
        results = await self._predict(model_id, model, {"text_docs": list(texts)})
        maps: list[dict[str, Any]] = []
        for result in results:
            weights: dict[str, Any] = {}
            for tensor in result["output"]:
                for m in (tensor.get("dataAsMap") or {}).get("response") or []:
                    weights.update(m)
            maps.append(weights)  # float32 weights, as ML Commons' Map<String, Float>
        return maps

    async def similarity(self, model_id: str, query_text: str, texts: list[str]) -> list[float]:
        model = self.models.require(model_id)
        function = model.algorithm or "TEXT_EMBEDDING"
        if function != "TEXT_SIMILARITY":
            raise _wrong_function(model_id, function, "TEXT_SIMILARITY", "reranking")
        if not texts:
            return []
        results = await self._predict(model_id, model, {"query_text": query_text, "text_docs": list(texts)})
        scores = []
        for result in results:
            data = result["output"][0].get("data")
            scores.append(float(np.asarray(data, dtype=np.float32).reshape(-1)[0]))
        return scores

    async def highlight(self, model_id: str, question: str, context: str) -> list[dict[str, Any]]:
        model = self.models.require(model_id)
        function = model.algorithm or "TEXT_EMBEDDING"
        if function != "QUESTION_ANSWERING":
            raise _wrong_function(
                model_id, function, "QUESTION_ANSWERING (sentence highlighting)", "semantic highlighting"
            )
        results = await self._predict(model_id, model, {"question": question, "context": context})
        out: list[dict[str, Any]] = []
        for result in results:
            for tensor in result["output"]:
                out.extend((tensor.get("dataAsMap") or {}).get("highlights") or [])
        return out


class _Analyzer:
    """One built-in analyzer: async ``(text) -> {token: weight}``, loaded on first call."""

    def __init__(self, owner: SparseAnalyzers, name: str, zip_path: Path) -> None:
        self.owner = owner
        self.name = name
        self.zip_path = zip_path
        self._model: runtime.DeployedModel | None = None
        self._lock = asyncio.Lock()

    async def _load(self) -> runtime.DeployedModel:
        async with self._lock:
            if self._model is None:
                self._model = await run_in_thread(self.owner.load, self.name, self.zip_path)
        return self._model

    async def __call__(self, text: str) -> dict[str, float]:
        return (await self.many([text]))[0]

    async def many(self, texts: list[str]) -> list[dict[str, float]]:
        model = await self._load()
        outputs = await model.predict(runtime.TextDocsInput(tuple(texts)))
        return [{str(t): float(w) for t, w in doc[0].data_as_map["response"][0].items()} for doc in outputs]

    def close(self) -> None:
        if self._model is not None:
            self._model.close()
            self._model = None


class SparseAnalyzers(Mapping[str, _Analyzer]):
    """Name -> analyzer, for ``rewrite.resolve(analyzers=...)``; only those whose zip is present."""

    def __init__(self, store: ArtifactStore, loader: Loader, backend: str = "auto") -> None:
        self.store = store
        self.loader = loader
        self.backend = backend
        self._analyzers: dict[str, _Analyzer] = {}
        for name, rel in ANALYZER_ZIPS.items():
            path = WeightSource(None, rel, marker="").locate()
            if path is not None:
                self._analyzers[name] = _Analyzer(self, name, path)

    def __getitem__(self, name: str) -> _Analyzer:
        return self._analyzers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._analyzers)

    def __len__(self) -> int:
        return len(self._analyzers)

    def load(self, name: str, zip_path: Path) -> runtime.DeployedModel:
        """Blocking: unpack the zip into the artifact store (verified, once) and load SPARSE_TOKENIZE."""
        digest = sha256_file(zip_path)  # streamed
        folder = self.store.get(digest) or self.store.add(
            zip_path, digest, model_format="TORCH_SCRIPT", function_name="SPARSE_TOKENIZE"
        )
        spec = runtime.ModelSpec(
            artifact_dir=folder, model_format="TORCH_SCRIPT", function_name="SPARSE_TOKENIZE", backend=self.backend
        )
        log.info("loading the %s neural-sparse analyzer from %s", name, zip_path)
        return self.loader(spec)

    def close(self) -> None:
        for analyzer in self._analyzers.values():
            analyzer.close()
