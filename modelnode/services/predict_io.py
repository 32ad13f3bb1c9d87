"""Predict request parsing and ML Commons' ModelTensorOutput rendering."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelnode import runtime
from modelnode.errors import IllegalArgument

# Functions that read ML Commons' TextDocsMLInput ({"text_docs": [...]}).
TEXT_DOCS_FUNCTIONS = ("TEXT_EMBEDDING", "SPARSE_ENCODING", "SPARSE_TOKENIZE")
SPARSE_FORMATS = {"word": "WORD", "lexical": "WORD", "token_id": "TOKEN_ID"}


@dataclass(frozen=True)
class ResultFilter:
    return_number: bool = True
    return_bytes: bool = False
    target_response: tuple[str, ...] = ()
    target_response_positions: tuple[int, ...] = ()


def _bool(v: Any, key: str) -> bool:
    if isinstance(v, bool):
        return v
    if v in ("true", "false"):
        return v == "true"
    raise IllegalArgument(f"[{key}] must be a boolean, got [{v}]")


def _filter(body: dict[str, Any]) -> ResultFilter:
    src = body.get("result_filter") if isinstance(body.get("result_filter"), dict) else body
    target = src.get("target_response") or []
    positions = src.get("target_response_positions") or []
    if not isinstance(target, list) or not all(isinstance(t, str) for t in target):
        raise IllegalArgument("[target_response] must be an array of strings")
    if not isinstance(positions, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in positions):
        raise IllegalArgument("[target_response_positions] must be an array of integers")
    return ResultFilter(
        return_number=_bool(src.get("return_number", True), "return_number"),
        return_bytes=_bool(src.get("return_bytes", False), "return_bytes"),
        target_response=tuple(target),
        target_response_positions=tuple(positions),
    )


def parse_input(algorithm: str | None, function_name: str, body: dict[str, Any]) -> tuple[Any, ResultFilter]:
    """The route's ``{algorithm}`` picks the parser (as in ML Commons); it must read the same kind of
    input as the model's own function, else the request cannot mean what it says."""
    parser = (algorithm or function_name).upper()
    if parser not in (*TEXT_DOCS_FUNCTIONS, "TEXT_SIMILARITY", "QUESTION_ANSWERING"):
        raise IllegalArgument(f"Wrong function name [{algorithm}]")
    if (parser in TEXT_DOCS_FUNCTIONS) != (function_name in TEXT_DOCS_FUNCTIONS) or (
        parser not in TEXT_DOCS_FUNCTIONS and parser != function_name
    ):
        raise IllegalArgument(
            f"The model is a {function_name} model; call /_plugins/_ml/_predict/{function_name.lower()}/<model_id> "
            f"or /_plugins/_ml/models/<model_id>/_predict"
        )
    if parser in TEXT_DOCS_FUNCTIONS:
        return _text_docs(body), _filter(body)
    if parser == "TEXT_SIMILARITY":
        # The cross-encoder response always carries byte_buffer (no result filter fields here).
        return _text_similarity(body), ResultFilter(return_bytes=True)
    return _question_answering(body), ResultFilter()


def _string_list(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise IllegalArgument(f"[{key}] must be an array of strings")
    return tuple(value)


def _text_docs(body: dict[str, Any]) -> runtime.TextDocsInput:
    docs = body.get("text_docs")
    if docs is None or (isinstance(docs, list) and not docs):
        raise IllegalArgument("Empty text docs")
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise IllegalArgument("[parameters] must be an object")
    content_type = params.get("content_type")
    if content_type is not None:
        if str(content_type).lower() not in ("query", "passage"):
            raise IllegalArgument(f"Wrong content_type [{content_type}]; use QUERY or PASSAGE")
        content_type = str(content_type).lower()
    fmt = params.get("sparse_embedding_format", "word")
    # The docs say lexical|token_id, ML Commons' enum says WORD|TOKEN_ID: accept all three.
    sparse_format = SPARSE_FORMATS.get(str(fmt).lower()) if isinstance(fmt, str) else None
    if sparse_format is None:
        raise IllegalArgument(f"Wrong sparse_embedding_format [{fmt}]; use word (alias lexical) or token_id")
    return runtime.TextDocsInput(
        _string_list(docs, "text_docs"), content_type=content_type, sparse_embedding_format=sparse_format
    )


def _text_similarity(body: dict[str, Any]) -> runtime.TextSimilarityInput:
    docs = body.get("text_docs")
    if docs is None or (isinstance(docs, list) and not docs):
        raise IllegalArgument("No text documents were provided")
    query = body.get("query_text")
    if query is None:
        raise IllegalArgument("No query text was provided")
    if not isinstance(query, str):
        raise IllegalArgument("[query_text] must be a string")
    return runtime.TextSimilarityInput(query, _string_list(docs, "text_docs"))


def _question_answering(body: dict[str, Any]) -> runtime.QuestionAnsweringInput:
    question, context = body.get("question"), body.get("context")
    if question is None or question == "":
        raise IllegalArgument("Question is not provided")
    if context is None or context == "":
        raise IllegalArgument("Context is not provided")
    if not isinstance(question, str) or not isinstance(context, str):
        raise IllegalArgument("[question] and [context] must be strings")
    return runtime.QuestionAnsweringInput(question, context)


def _tensor_json(t: runtime.ModelTensor, f: ResultFilter) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if t.name is not None:
        out["name"] = t.name
    if t.data is not None:
        out["data_type"] = t.data_type
        out["shape"] = list(t.data.shape)
        if f.return_number:
            out["data"] = t.data.reshape(-1)  # rendered by orjson: float32 keeps float32's shortest form
        if f.return_bytes:
            le = t.data.astype(t.data.dtype.newbyteorder("<"), copy=False)
            out["byte_buffer"] = {
                "array": base64.b64encode(np.ascontiguousarray(le).tobytes()).decode(),
                "order": "LITTLE_ENDIAN",
            }
    if t.data_as_map is not None:
        out["dataAsMap"] = t.data_as_map
    return out


def render_outputs(outputs: list[runtime.ModelTensors], f: ResultFilter) -> dict[str, Any]:
    results = []
    for tensors in outputs:
        kept = [
            t
            for i, t in enumerate(tensors)
            if (not f.target_response or t.name in f.target_response)
            and (not f.target_response_positions or i in f.target_response_positions)
        ]
        results.append({"output": [_tensor_json(t, f) for t in kept]})
    return {"inference_results": results}
