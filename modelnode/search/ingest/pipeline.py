"""Pipelines: the processor registry, parsing and validating a pipeline body (Pipeline.create), and
running it across a request's documents (conditions, on_failure, ignore_failure, verbose traces)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modelnode.errors import ModelNodeError, ParseError
from modelnode.search.ingest.chunking import TextChunkingProcessor
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
from modelnode.search.ingest.document import IngestDocument, now_iso
from modelnode.search.ingest.errors import config_error, error_json, java_type
from modelnode.search.ingest.inference import InferenceProcessor, SparseEncodingProcessor, TextEmbeddingProcessor
from modelnode.search.ingest.processor import Common, Config, Processor, RunContext

PROCESSORS: dict[str, Callable[[Common, Config], Processor]] = {
    "text_embedding": TextEmbeddingProcessor,
    "sparse_encoding": SparseEncodingProcessor,
    "text_chunking": TextChunkingProcessor,
    "set": SetProcessor,
    "remove": RemoveProcessor,
    "rename": RenameProcessor,
    "lowercase": LowercaseProcessor,
    "uppercase": UppercaseProcessor,
    "append": AppendProcessor,
    "fail": FailProcessor,
    "drop": DropProcessor,
}


@dataclass
class Pipeline:
    id: str
    description: str | None
    processors: list[Processor]
    on_failure: list[Processor] | None
    version: int | None = None

    def model_ids(self) -> set[str]:
        out: set[str] = set()

        def walk(procs: list[Processor] | None) -> None:
            for p in procs or []:
                if isinstance(p, InferenceProcessor):
                    out.add(p.model_id)
                walk(p.on_failure)

        walk(self.processors)
        walk(self.on_failure)
        return out


def _read_processors(items: Any, prop: str) -> list[Processor]:
    if not isinstance(items, list):
        raise config_error(None, prop, f"property isn't a list, but of type [{java_type(items)}]")
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise config_error(None, prop, f"property isn't a map, but of type [{java_type(item)}]")
        for ptype, config in item.items():
            out.append(read_processor(ptype, config))
    return out


def read_processor(ptype: str, config: Any) -> Processor:
    factory = PROCESSORS.get(ptype)
    if factory is None:
        raise ParseError(f"No processor type exists with name [{ptype}]")
    if not isinstance(config, dict):
        raise config_error(ptype, None, f"[{ptype}] processor config isn't a map, but of type [{java_type(config)}]")
    cfg = Config(ptype, config)
    tag = cfg.string("tag", None)
    description = cfg.string("description", None)
    condition_src = cfg.any("if", None)
    if condition_src is not None and not isinstance(condition_src, str):
        if isinstance(condition_src, dict) and isinstance(condition_src.get("source"), str):
            condition_src = condition_src["source"]
        else:
            raise config_error(ptype, "if", "property isn't a string or a script object")
    condition = Condition(condition_src) if condition_src is not None else None
    ignore_failure = cfg.boolean("ignore_failure", False)
    on_failure_raw = cfg.any("on_failure", None)
    on_failure = None
    if on_failure_raw is not None:
        on_failure = _read_processors(on_failure_raw, "on_failure")
        if not on_failure:
            raise config_error(ptype, "on_failure", "processors list cannot be empty")
    processor = factory(Common(tag, description, condition, ignore_failure, on_failure), cfg)
    cfg.done()
    return processor


def parse_pipeline(pipeline_id: str, body: Any) -> Pipeline:
    """Validate a pipeline body as OpenSearch's Pipeline.create; models are not checked here (they
    are resolved when a document is ingested, as in OpenSearch)."""
    if not isinstance(body, dict):
        raise ParseError("request body must be a JSON object")
    config = dict(body)
    description = config.pop("description", None)
    version = config.pop("version", None)
    config.pop("_meta", None)
    if "processors" not in config or config["processors"] is None:
        config.pop("processors", None)
        raise config_error(None, "processors", "required property is missing")
    processors = _read_processors(config.pop("processors"), "processors")
    on_failure = None
    if "on_failure" in config:
        on_failure = _read_processors(config.pop("on_failure"), "on_failure")
        if not on_failure:
            raise ParseError(f"pipeline [{pipeline_id}] cannot have an empty on-failure option defined")
    if config:
        raise ParseError(
            f"pipeline [{pipeline_id}] doesn't support one or more provided configuration parameters "
            f"[{', '.join(config)}]"
        )
    if description is not None and not isinstance(description, str):
        raise config_error(None, "description", f"property isn't a string, but of type [{java_type(description)}]")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise config_error(None, "version", f"property cannot be converted to an int [{version}]")
    return Pipeline(pipeline_id, description, processors, on_failure, version)


# -- execution ---------------------------------------------------------------------------------
def _trace(doc: IngestDocument, proc: Processor, status: str, error: ModelNodeError | None = None) -> None:
    if doc.trace is None:
        return
    entry: dict[str, Any] = {"processor_type": proc.type, "status": status}
    if proc.tag is not None:
        entry["tag"] = proc.tag
    if proc.description is not None:
        entry["description"] = proc.description
    if proc.condition is not None:
        entry["if"] = {"condition": proc.condition.source, "result": status != "skipped"}
    if status == "error" and error is not None:
        entry["error"] = error_json(error)
    else:
        if status == "error_ignored" and error is not None:
            entry["ignored_error"] = {"error": error_json(error)}
        if status != "skipped" and not doc.dropped:
            entry["doc"] = doc.snapshot()
    doc.trace.append(entry)


async def _run_list(processors: list[Processor], docs: list[IngestDocument], ctx: RunContext) -> None:
    """Run processors in order over the alive docs; a failed doc (not handled) gets ``doc.error``."""
    for proc in processors:
        live = [d for d in docs if d.alive]
        if not live:
            return
        selected: list[IngestDocument] = []
        for d in live:
            try:
                if proc.condition is None or proc.condition.evaluate(d):
                    selected.append(d)
                else:
                    _trace(d, proc, "skipped")
            except ModelNodeError as e:
                d.error, d.failed_in = e, (proc.type, proc.tag)
                _trace(d, proc, "error", e)
        if not selected:
            continue
        errors = await proc.run(selected, ctx)
        failed: list[tuple[IngestDocument, ModelNodeError]] = []
        for d, err in zip(selected, errors, strict=True):
            if err is None:
                _trace(d, proc, "dropped" if d.dropped else "success")
            elif proc.ignore_failure:
                _trace(d, proc, "error_ignored", err)
            else:
                _trace(d, proc, "error", err)
                failed.append((d, err))
        if not failed:
            continue
        if proc.on_failure:
            handled = [d for d, _ in failed]
            for d, err in failed:
                d.ingest.update(
                    on_failure_message=err.reason,
                    on_failure_processor_type=proc.type,
                    on_failure_processor_tag=proc.tag,
                )
            await _run_list(proc.on_failure, handled, ctx)
            for d in handled:
                for key in ("on_failure_message", "on_failure_processor_type", "on_failure_processor_tag"):
                    d.ingest.pop(key, None)
        else:
            for d, err in failed:
                d.error = err
                d.failed_in = (proc.type, proc.tag)


async def execute(pipeline: Pipeline, docs: list[IngestDocument], ctx: RunContext) -> None:
    """Run ``pipeline`` over ``docs`` in place: each ends with its new ``source``, or ``error`` set,
    or ``dropped``. Pipeline-level ``on_failure`` handles a failed doc (which is then kept)."""
    for d in docs:
        d.ingest.setdefault("timestamp", now_iso())
        if ctx.verbose and d.trace is None:
            d.trace = []
    await _run_list(pipeline.processors, docs, ctx)
    if pipeline.on_failure:
        failed = [d for d in docs if d.error is not None]
        for d in failed:
            err = d.error
            assert err is not None
            ptype, tag = d.failed_in or (None, None)
            d.ingest.update(
                on_failure_message=err.reason, on_failure_processor_type=ptype, on_failure_processor_tag=tag
            )
            d.error, d.failed_in = None, None
        if failed:
            await _run_list(pipeline.on_failure, failed, ctx)
        for d in failed:
            for key in ("on_failure_message", "on_failure_processor_type", "on_failure_processor_tag"):
                d.ingest.pop(key, None)
