"""Ingest pipelines: parse and validate a pipeline body, run it over documents.

A pipeline is ``{"description", "processors": [{<type>: {...}}, ...], "on_failure": [...]}``.
Processors run *across* the documents of one request: each processor sees every document still
alive before the next processor starts, so the inference processors (``text_embedding``,
``sparse_encoding``) can send a whole bulk request's texts to the model in ``batch_size``-document
batches (texts sorted by length inside a batch, results put back in order; batches run
concurrently, so the runtime's batcher merges them further). A processor failure fails that one
document; the others go on.

Processors: ``text_embedding``, ``sparse_encoding`` (prune_type / prune_ratio as neural-search's
PruneUtils, in float32), ``text_chunking`` (fixed_token_length on the standard tokenizer's offsets,
fixed_char_length, delimiter; ``max_chunk_limit`` counted across the document), and the cheap core
ones ``set``, ``remove``, ``rename``, ``lowercase``, ``uppercase``, ``append``, ``fail``, ``drop``.
Common options: ``tag``, ``description``, ``if`` (a painless-free subset: see ``Condition``),
``ignore_failure``, ``on_failure``.

field_map semantics follow neural-search's InferenceProcessor exactly (dot paths on the input are
the nested-map form; output written next to the input; a list of strings gives
``[{"knn": vec}, ...]`` / ``[{"sparse_encoding": map}, ...]``; missing or null input: no output).
Vectors and weights come out as float32 (Java's ``Float``), so ``_source`` prints as OpenSearch's.

Modules, each importing only modules listed above it (``errors`` none, ``pipeline`` all of them)
  errors           error types (parse/script/fail/illegal-argument), ``java_type``, ``error_json``
  document         ``IngestDocument`` (dotted-path field access) and the mustache subset (templates)
  condition        ``Condition``: the processor ``if`` subset
  processor        ``Config`` (ConfigurationUtils reads), ``RunContext``, ``Processor``, ``Common``
  core_processors  set, remove, rename, lowercase, uppercase, append, fail, drop
  fields           field_map shapes: process map, writing/reading results, input validation
  inference        text_embedding and sparse_encoding (batched model calls) and pruning
  chunking         text_chunking and its algorithms, the tokenizers' offsets
  pipeline         ``PROCESSORS``, ``Pipeline``, ``parse_pipeline``, ``execute``

The package re-exports every public name of the former single ``ingest.py`` module, so callers keep
writing ``from modelnode.search import ingest`` / ``ingest.parse_pipeline(...)`` unchanged.
"""

from __future__ import annotations

from modelnode.search.ingest.chunking import (
    CHUNKER_ALGORITHMS,
    DISABLED_LIMIT,
    WORD_TOKENIZERS,
    Chunker,
    DelimiterChunker,
    FixedCharLengthChunker,
    FixedTokenLengthChunker,
    TextChunkingProcessor,
    default_tokenize,
    limit_hit,
)
from modelnode.search.ingest.condition import Condition
from modelnode.search.ingest.core_processors import (
    AppendProcessor,
    DropProcessor,
    FailProcessor,
    LowercaseProcessor,
    RemoveProcessor,
    RenameProcessor,
    SetProcessor,
    UppercaseProcessor,
)
from modelnode.search.ingest.document import IngestDocument, now_iso, render_template
from modelnode.search.ingest.errors import (
    FailProcessorError,
    IngestProcessorError,
    ScriptError,
    config_error,
    error_json,
    java_type,
)
from modelnode.search.ingest.fields import (
    build_process_map,
    inference_texts,
    read_results,
    validate_map_values,
    write_results,
)
from modelnode.search.ingest.inference import (
    MAX_IN_FLIGHT,
    PRUNE_TYPES,
    InferenceProcessor,
    SparseEncodingProcessor,
    TextEmbeddingProcessor,
    parse_prune,
    prune,
    valid_prune_ratio,
)
from modelnode.search.ingest.pipeline import PROCESSORS, Pipeline, execute, parse_pipeline, read_processor
from modelnode.search.ingest.processor import DEFAULT_MAX_TOKEN_COUNT, Common, Config, Processor, RunContext

__all__ = [
    "CHUNKER_ALGORITHMS",
    "DEFAULT_MAX_TOKEN_COUNT",
    "DISABLED_LIMIT",
    "MAX_IN_FLIGHT",
    "PROCESSORS",
    "PRUNE_TYPES",
    "WORD_TOKENIZERS",
    "AppendProcessor",
    "Chunker",
    "Common",
    "Condition",
    "Config",
    "DelimiterChunker",
    "DropProcessor",
    "FailProcessor",
    "FailProcessorError",
    "FixedCharLengthChunker",
    "FixedTokenLengthChunker",
    "InferenceProcessor",
    "IngestDocument",
    "IngestProcessorError",
    "LowercaseProcessor",
    "Pipeline",
    "Processor",
    "RemoveProcessor",
    "RenameProcessor",
    "RunContext",
    "ScriptError",
    "SetProcessor",
    "SparseEncodingProcessor",
    "TextChunkingProcessor",
    "TextEmbeddingProcessor",
    "UppercaseProcessor",
    "build_process_map",
    "config_error",
    "default_tokenize",
    "error_json",
    "execute",
    "inference_texts",
    "java_type",
    "limit_hit",
    "now_iso",
    "parse_pipeline",
    "parse_prune",
    "prune",
    "read_processor",
    "read_results",
    "render_template",
    "valid_prune_ratio",
    "validate_map_values",
    "write_results",
]
