"""The embedded search engine: OpenSearch-compatible indices over JSON documents.

Pure and in-memory: documents arrive from ``services`` (which persists them in SQLite, the source of
truth) and every structure here is derived and can be rebuilt from them. Models are reached only
through the ``Encoder`` protocol (``search.encoder``), which services implement; this package never
imports ``runtime``.

Modules
  core       SearchIndex (one index: documents, per-field structures), Scores, QueryContext, registries
  mapping    mappings and index settings: parse, validate, dynamic mapping, field types
  analysis   the standard analyzer (tokens with offsets)
  text       BM25 postings for ``text`` fields; keyword/numeric/boolean doc values
  query      the query DSL: leaf and compound queries -> Scores; sort, paging, the response shape
  vector     ``knn_vector`` fields (faiss), the ``knn`` query, exact score formulas
  sparse     ``rank_features`` / ``sparse_vector`` fields, the ``neural_sparse`` query
  rewrite    async pre-pass: ``neural`` -> vectors and ``neural_sparse`` text -> tokens via the Encoder
  hybrid     ``hybrid`` query, score normalization and combination (normalization/score-ranker processors)
  pipelines  search pipelines: request, phase-results and response processors (rerank, highlight, enricher)
  ingest     ingest pipelines and processors (text_embedding, sparse_encoding, text_chunking, ...)
  highlight  plain highlighting for lexical queries; span/tag placement shared with
  semantic_highlight  the semantic highlighter (question extraction, model call, tags)
  dsl        the small query DSL over the ML system indices (models, groups, tasks)
"""
