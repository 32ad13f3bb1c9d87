"""The pretrained catalog of ML Commons (2.9+) as typed data. Pure data, no I/O.

Names, versions and formats follow the official listing (``model_listing/pre_trained_models.json``
and opensearch-py-ml's ``pretrained_models_all_versions.json``); dimensions, pooling, normalisation
and space types follow the sentence-transformers model cards and opensearch-py-ml's
``MODEL_SPACE_TYPE_MAPPING``. The artifact's own config.json stays authoritative at registration:
these entries say which (name, version, format) triples exist and what to expect of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class FunctionName(StrEnum):
    TEXT_EMBEDDING = "TEXT_EMBEDDING"
    SPARSE_ENCODING = "SPARSE_ENCODING"
    SPARSE_TOKENIZE = "SPARSE_TOKENIZE"
    TEXT_SIMILARITY = "TEXT_SIMILARITY"
    QUESTION_ANSWERING = "QUESTION_ANSWERING"


class ModelFormat(StrEnum):
    TORCH_SCRIPT = "TORCH_SCRIPT"
    ONNX = "ONNX"


BOTH = (ModelFormat.TORCH_SCRIPT, ModelFormat.ONNX)
TORCH_ONLY = (ModelFormat.TORCH_SCRIPT,)
SPACE_TYPES = frozenset({"l2", "cosinesimil", "innerproduct", "l1", "linf"})
POOLING_MODES = frozenset({"MEAN", "MEAN_SQRT_LEN", "MAX", "WEIGHTEDMEAN", "CLS", "LASTTOKEN", "NONE"})


@dataclass(frozen=True)
class PretrainedModel:
    name: str
    versions: tuple[str, ...]
    formats: tuple[ModelFormat, ...]
    function_name: FunctionName
    description: str = ""
    # Text embedding only.
    dimension: int | None = None
    space_type: str | None = None
    pooling_mode: str | None = None
    normalize_result: bool | None = None
    model_type: str | None = None
    # Sparse encoders traced with pruning (doc-v3: keep weights > 0.1 * max).
    sparse_prune_ratio: float = 0.0
    # Hugging Face id of the source weights, for `modelnode artifacts build`.
    source: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.versions or not self.formats:
            raise ValueError(f"{self.name}: versions and formats must not be empty")
        if self.function_name is FunctionName.TEXT_EMBEDDING:
            if not self.dimension or self.space_type not in SPACE_TYPES:
                raise ValueError(f"{self.name}: text embedding needs a dimension and a known space_type")
            if self.pooling_mode not in POOLING_MODES or self.normalize_result is None:
                raise ValueError(f"{self.name}: text embedding needs pooling_mode and normalize_result")
        if not 0.0 <= self.sparse_prune_ratio < 1.0:
            raise ValueError(f"{self.name}: sparse_prune_ratio must be in [0, 1)")

    @property
    def latest_version(self) -> str:
        return self.versions[-1]

    def supports(self, version: str, model_format: str) -> bool:
        return version in self.versions and model_format.upper() in {f.value for f in self.formats}

    def artifact_stem(self, version: str, model_format: str) -> str:
        """The zip's file name without ``.zip``, as ML Commons' ModelHelper builds it:
        the name without its first segment, slashes as underscores, then version and format.
        """
        return artifact_stem(self.name, version, model_format)


def artifact_stem(name: str, version: str, model_format: str) -> str:
    """The zip's file name without ``.zip``, as ML Commons' ModelHelper builds it: the name
    without its first segment, slashes as underscores, then ``-{version}-{format_lower}``. A name
    without a slash is used whole. No validation: ``artifacts.repository.artifact_stem`` checks
    the name and version for the repository layout first."""
    short = name.split("/", 1)[1] if "/" in name else name
    return f"{short.replace('/', '_')}-{version}-{model_format.lower()}"


def _st(
    short: str,
    versions: tuple[str, ...],
    dim: int,
    space: str,
    pooling: str,
    normalize: bool,
    model_type: str,
    formats: tuple[ModelFormat, ...] = BOTH,
) -> PretrainedModel:
    return PretrainedModel(
        name=f"huggingface/sentence-transformers/{short}",
        versions=versions,
        formats=formats,
        function_name=FunctionName.TEXT_EMBEDDING,
        description=(
            f"This is a sentence-transformers model: It maps sentences & paragraphs to a {dim} "
            "dimensional dense vector space and can be used for tasks like clustering or semantic search."
        ),
        dimension=dim,
        space_type=space,
        pooling_mode=pooling,
        normalize_result=normalize,
        model_type=model_type,
        source=f"sentence-transformers/{short}",
    )


def _sparse(short: str, version: str, description: str, prune: float = 0.0) -> PretrainedModel:
    return PretrainedModel(
        name=f"amazon/neural-sparse/{short}",
        versions=(version,),
        formats=TORCH_ONLY,
        function_name=FunctionName.SPARSE_ENCODING,
        description=description,
        sparse_prune_ratio=prune,
        source=f"opensearch-project/{short}",
    )


_V12 = ("1.0.1", "1.0.2")
_SPARSE_DOC = (
    "This is a neural sparse encoding model: It transfers text into sparse vector, and then extract nonzero "
    "index and value to entry and weights. It serves only in ingestion and customer should use tokenizer "
    "model in query."
)
_SPARSE_BI = (
    "This is a neural sparse encoding model: It transfers text into sparse vector, and then extract nonzero "
    "index and value to entry and weights. It serves in both ingestion and search."
)
_RERANK = (
    "The model can be used for Information Retrieval: Given a query, encode the query will all possible "
    "passages (e.g. retrieved with ElasticSearch). Then sort the passages in a decreasing order."
)

CATALOG: tuple[PretrainedModel, ...] = (
    # 11 sentence transformers (TEXT_EMBEDDING)
    _st("all-distilroberta-v1", _V12, 768, "l2", "MEAN", True, "roberta"),
    _st("all-MiniLM-L6-v2", _V12, 384, "l2", "MEAN", True, "bert"),
    _st("all-MiniLM-L12-v2", _V12, 384, "l2", "MEAN", True, "bert"),
    _st("all-mpnet-base-v2", _V12, 768, "l2", "MEAN", True, "mpnet"),
    _st("msmarco-distilbert-base-tas-b", ("1.0.1", "1.0.2", "1.0.3"), 768, "innerproduct", "CLS", False, "distilbert"),
    _st("multi-qa-MiniLM-L6-cos-v1", _V12, 384, "l2", "MEAN", True, "bert"),
    _st("multi-qa-mpnet-base-dot-v1", _V12, 768, "innerproduct", "CLS", False, "mpnet"),
    _st("paraphrase-MiniLM-L3-v2", _V12, 384, "cosinesimil", "MEAN", False, "bert"),
    _st("paraphrase-multilingual-MiniLM-L12-v2", _V12, 384, "cosinesimil", "MEAN", False, "xlm-roberta"),
    _st("paraphrase-mpnet-base-v2", ("1.0.0", "1.0.1"), 768, "cosinesimil", "MEAN", False, "mpnet"),
    _st(
        "distiluse-base-multilingual-cased-v1",
        _V12,
        512,
        "cosinesimil",
        "MEAN",
        False,
        "distilbert",
        formats=TORCH_ONLY,
    ),
    # 8 neural sparse encoders (SPARSE_ENCODING), TorchScript only
    _sparse("opensearch-neural-sparse-encoding-v1", "1.0.1", _SPARSE_BI),
    _sparse("opensearch-neural-sparse-encoding-v2-distill", "1.0.0", _SPARSE_BI),
    _sparse("opensearch-neural-sparse-encoding-doc-v1", "1.0.1", _SPARSE_DOC),
    _sparse("opensearch-neural-sparse-encoding-doc-v2-distill", "1.0.0", _SPARSE_DOC),
    _sparse("opensearch-neural-sparse-encoding-doc-v2-mini", "1.0.0", _SPARSE_DOC),
    _sparse("opensearch-neural-sparse-encoding-doc-v3-distill", "1.0.0", _SPARSE_DOC, prune=0.1),
    _sparse("opensearch-neural-sparse-encoding-doc-v3-gte", "1.0.0", _SPARSE_DOC, prune=0.1),
    _sparse("opensearch-neural-sparse-encoding-multilingual-v1", "1.0.0", _SPARSE_DOC),
    # 2 sparse tokenizers (SPARSE_TOKENIZE): tokenizer.json + idf.json, no network
    PretrainedModel(
        name="amazon/neural-sparse/opensearch-neural-sparse-tokenizer-v1",
        versions=("1.0.1",),
        formats=TORCH_ONLY,
        function_name=FunctionName.SPARSE_TOKENIZE,
        description="This is a neural sparse tokenizer model: It tokenize input sentence into tokens and "
        "assign pre-defined weight from IDF to each. It serves only in query.",
        source="opensearch-project/opensearch-neural-sparse-encoding-doc-v1",
    ),
    PretrainedModel(
        name="amazon/neural-sparse/opensearch-neural-sparse-tokenizer-multilingual-v1",
        versions=("1.0.0",),
        formats=TORCH_ONLY,
        function_name=FunctionName.SPARSE_TOKENIZE,
        description="This is a multilingual neural sparse tokenizer model: It tokenize input sentence into "
        "tokens and assign pre-defined weight from IDF to each. It serves only in query.",
        source="opensearch-project/opensearch-neural-sparse-encoding-multilingual-v1",
    ),
    # 2 cross-encoders (TEXT_SIMILARITY)
    PretrainedModel(
        name="huggingface/cross-encoders/ms-marco-MiniLM-L-6-v2",
        versions=("1.0.0", "1.0.1", "1.0.2"),
        formats=BOTH,
        function_name=FunctionName.TEXT_SIMILARITY,
        description=_RERANK,
        source="cross-encoder/ms-marco-MiniLM-L-6-v2",
    ),
    PretrainedModel(
        name="huggingface/cross-encoders/ms-marco-MiniLM-L-12-v2",
        versions=("1.0.0", "1.0.1", "1.0.2"),
        formats=BOTH,
        function_name=FunctionName.TEXT_SIMILARITY,
        description=_RERANK,
        source="cross-encoder/ms-marco-MiniLM-L-12-v2",
    ),
    # 1 semantic sentence highlighter (QUESTION_ANSWERING, model_type sentence_highlighting)
    PretrainedModel(
        name="amazon/sentence-highlighting/opensearch-semantic-highlighter-v1",
        versions=("1.0.0",),
        formats=TORCH_ONLY,
        function_name=FunctionName.QUESTION_ANSWERING,
        description="A semantic highlighter model that identifies relevant sentences in a document given a query.",
        source="opensearch-project/opensearch-semantic-highlighter-v1",
    ),
)

_BY_NAME = {m.name: m for m in CATALOG}
if len(_BY_NAME) != len(CATALOG):  # pragma: no cover - guards edits to the table above
    raise ValueError("duplicate model names in the catalog")


def find(name: str) -> PretrainedModel | None:
    return _BY_NAME.get(name)


def lookup(name: str, version: str, model_format: str) -> PretrainedModel | None:
    """The entry if (name, version, format) is in the pretrained list, as ML Commons checks it."""
    entry = _BY_NAME.get(name)
    if entry is None or not entry.supports(version, model_format):
        return None
    return entry


def listing() -> list[dict[str, object]]:
    """The catalog in the shape of the official ``pre_trained_models.json``."""
    return [
        {
            "name": m.name,
            "version": list(m.versions),
            "format": [f.value.lower() for f in m.formats],
            "description": m.description,
            "function_name": m.function_name.value,
        }
        for m in CATALOG
    ]
