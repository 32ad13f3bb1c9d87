"""field_map shapes (neural-search's InferenceProcessor / ProcessorDocumentUtils): the process map
of input texts, writing results back next to their inputs, reading stored ones (skip_existing), and
validating the input values against the field_map."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from modelnode.search.ingest.errors import IngestProcessorError, java_type


def _split_nested_key(key: str, target: Any) -> tuple[str, Any]:
    """processNestedKey: ``"a.b.c": t`` -> ``("a", {"b.c": t})``."""
    dot = key.find(".")
    if dot != -1:
        return key[:dot], {key[dot + 1 :]: target}
    return key, target


def _build_nested(parent: str, target: Any, source: dict[str, Any] | None, tree: dict[str, Any]) -> None:
    if target is None or source is None:
        return
    if isinstance(target, dict):
        nxt: dict[str, Any] = {}
        value = source.get(parent)
        if isinstance(value, dict):
            for k, v in target.items():
                k2, v2 = _split_nested_key(k, v)
                _build_nested(k2, v2, value, nxt)
        elif isinstance(value, list):
            for k, v in target.items():
                strings = [x.get(k) if isinstance(x, dict) else None for x in value]
                _build_nested(k, v, {k: strings}, nxt)
        existing = tree.get(parent)
        if isinstance(existing, dict):
            existing.update(nxt)
        else:
            tree[parent] = nxt
    else:
        tree[str(target)] = source.get(parent)


def build_process_map(field_map: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """buildMapWithTargetKeys: leaf values are the input texts, keyed by output names."""
    out: dict[str, Any] = {}
    for key, target in field_map.items():
        original, target2 = _split_nested_key(key, target)
        if isinstance(target2, dict):
            tree: dict[str, Any] = {}
            _build_nested(original, target2, source, tree)
            out[original] = tree.get(original)
        else:
            out[str(target2)] = source.get(original)
    return out


def _texts_of(value: Any, texts: list[str]) -> None:
    if isinstance(value, dict):
        for v in value.values():
            _texts_of(v, texts)
    elif isinstance(value, list):
        texts.extend(str(v) for v in value if v is not None)
    elif value is not None:
        texts.append(str(value))


def inference_texts(process_map: dict[str, Any]) -> list[str]:
    """createInferenceList: every input text, in the order results are written back."""
    texts: list[str] = []
    for value in process_map.values():
        if value is None:
            continue
        if isinstance(value, list):
            texts.extend(str(v) for v in value)
        elif isinstance(value, dict):
            _texts_of(value, texts)
        else:
            texts.append(str(value))
    return texts


def _write_nested(key: str, value: Any, results: Iterator[Any], source: dict[str, Any] | None, list_key: str) -> None:
    if key is None or source is None or value is None:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            here = source.get(key)
            if isinstance(here, list):
                inputs = iter(v) if isinstance(v, list) else iter(())
                for element in here:
                    nxt = next(inputs, None)
                    if nxt is not None and isinstance(element, dict):
                        element[k] = next(results)
            else:
                k2, v2 = _split_nested_key(k, v)
                if here is None:
                    here = source[key] = {}
                if isinstance(here, dict):
                    _write_nested(k2, v2, results, here, list_key)
    elif isinstance(value, list):
        source[key] = [{list_key: next(results)} for _ in value]
    else:
        source[key] = next(results)


def write_results(process_map: dict[str, Any], results: Sequence[Any], source: dict[str, Any], list_key: str) -> None:
    """buildNLPResult + setFieldValue: put each result where its input came from."""
    it = iter(results)
    for key, value in process_map.items():
        k, v = _split_nested_key(key, value)
        if isinstance(v, str) or (v is not None and not isinstance(v, (list, dict))):
            source[k] = next(it)
        elif isinstance(v, list):
            source[k] = [{list_key: next(it)} for _ in v]
        elif isinstance(v, dict):
            _write_nested(k, v, it, source, list_key)


def _read_nested(key: str, value: Any, source: Any, list_key: str, out: list[Any]) -> None:
    """The mirror of ``_write_nested`` over a stored document (for skip_existing)."""
    if value is None:
        return
    if not isinstance(source, dict):
        out.append(None)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            here = source.get(key)
            if isinstance(here, list):
                inputs = v if isinstance(v, list) else []
                for element, text in zip(here, inputs, strict=False):
                    if text is not None:
                        out.append(element.get(k) if isinstance(element, dict) else None)
            else:
                k2, v2 = _split_nested_key(k, v)
                _read_nested(k2, v2, here, list_key, out)
    elif isinstance(value, list):
        stored = source.get(key)
        for i in range(len(value)):
            item = stored[i] if isinstance(stored, list) and i < len(stored) else None
            out.append(item.get(list_key) if isinstance(item, dict) else None)
    else:
        out.append(source.get(key))


def read_results(process_map: dict[str, Any], source: dict[str, Any], list_key: str) -> list[Any]:
    out: list[Any] = []
    for key, value in process_map.items():
        k, v = _split_nested_key(key, value)
        if isinstance(v, dict):
            _read_nested(k, v, source, list_key, out)
        elif isinstance(v, list):
            stored = source.get(k)
            for i in range(len(v)):
                item = stored[i] if isinstance(stored, list) and i < len(stored) else None
                out.append(item.get(list_key) if isinstance(item, dict) else None)
        elif v is not None:
            out.append(source.get(k))
    return out


def validate_map_values(
    field_map: dict[str, Any], source: dict[str, Any], *, allow_empty: bool, depth: int = 1
) -> None:
    """ProcessorDocumentUtils.validateMapTypeValue (max depth 20, index.mapping.depth.limit)."""
    if depth > 20:
        raise IngestProcessorError("map type field [field_map] reaches max depth limit, cannot process it")
    for key, nxt_map in field_map.items():
        value = source.get(key)
        if value is None:
            continue
        if isinstance(value, list):
            _validate_list(key, value, field_map, allow_empty, depth + 1)
        elif isinstance(value, dict):
            if not isinstance(nxt_map, dict):
                raise IngestProcessorError(
                    f"[{key}] configuration doesn't match actual value type, configuration type is: "
                    f"{java_type(nxt_map)}, actual value type is: {java_type(value)}"
                )
            validate_map_values(nxt_map, value, allow_empty=allow_empty, depth=depth + 1)
        elif not isinstance(value, str):
            raise IngestProcessorError(f"map type field [{key}] is neither string nor nested type, cannot process it")
        elif not allow_empty and not value.strip():
            raise IngestProcessorError(f"map type field [{key}] has empty string value, cannot process it")


def _validate_list(key: str, values: list[Any], field_map: dict[str, Any], allow_empty: bool, depth: int) -> None:
    if depth > 20:
        raise IngestProcessorError(f"map type field [{key}] reaches max depth limit, cannot process it")
    for element in values:
        if element is None:
            raise IngestProcessorError(f"list type field [{key}] has null, cannot process it")
        if isinstance(element, list):
            raise IngestProcessorError(f"list type field [{key}] is nested list type, cannot process it")
        if isinstance(element, dict):
            nxt = field_map.get(key)
            if not isinstance(nxt, dict):
                raise IngestProcessorError(
                    f"[{key}] configuration doesn't match actual value type, configuration type is: "
                    f"{java_type(nxt)}, actual value type is: {java_type(element)}"
                )
            validate_map_values(nxt, element, allow_empty=allow_empty, depth=depth + 1)
        elif not isinstance(element, str):
            raise IngestProcessorError(f"list type field [{key}] has non string value, cannot process it")
        elif not allow_empty and not element.strip():
            raise IngestProcessorError(f"list type field [{key}] has empty string, cannot process it")


def _normalize_field_map(field_map: dict[str, Any]) -> dict[str, Any]:
    """Dot paths on the input side become the nested-map form (for validation)."""
    out: dict[str, Any] = {}
    for key, target in field_map.items():
        k, v = _split_nested_key(key, target)
        if isinstance(v, dict):
            v = _normalize_field_map(v)
            if isinstance(out.get(k), dict):
                out[k].update(v)
                continue
        out[k] = v
    return out
