"""The cheap core processors: ``set``, ``remove``, ``rename``, ``lowercase``, ``uppercase``,
``append``, ``fail``, ``drop``."""

from __future__ import annotations

import copy

from modelnode.errors import ModelNodeError
from modelnode.search.ingest.document import _MISSING, IngestDocument, _template_value, render_template
from modelnode.search.ingest.errors import FailProcessorError, IngestProcessorError, config_error, java_type
from modelnode.search.ingest.processor import Common, Config, Processor, RunContext


class SetProcessor(Processor):
    type = "set"

    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)
        self.field = cfg.string("field")
        self.copy_from = cfg.string("copy_from", None)
        if self.copy_from is None:
            self.value = cfg.any("value")
        elif cfg.has("value"):
            raise config_error(self.type, "copy_from", "cannot set both `copy_from` and `value` in the same processor")
        self.override = cfg.boolean("override", True)
        self.ignore_empty_value = cfg.boolean("ignore_empty_value", False)

    def execute(self, doc: IngestDocument, ctx: RunContext) -> None:
        path = render_template(self.field, doc)
        if self.copy_from is not None:
            value = copy.deepcopy(doc.get(self.copy_from, None))
            if value is None:
                raise IngestProcessorError(f"source field [{self.copy_from}] doesn't exist")
        else:
            value = _template_value(copy.deepcopy(self.value), doc)
        if self.ignore_empty_value and (value is None or value == ""):
            return
        if not self.override and doc.get(path, None) is not None:
            return
        doc.set(path, value)


class RemoveProcessor(Processor):
    type = "remove"

    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)
        raw = cfg.any("field")
        self.fields = raw if isinstance(raw, list) else [raw]
        if not self.fields or not all(isinstance(f, str) for f in self.fields):
            raise config_error(self.type, "field", "property isn't a string or a list of strings")
        self.ignore_missing = cfg.boolean("ignore_missing", False)

    def execute(self, doc: IngestDocument, ctx: RunContext) -> None:
        for f in self.fields:
            path = render_template(f, doc)
            if path in ("_index", "_id", "_version", "_routing"):
                raise IngestProcessorError(f"cannot remove metadata field [{path}]")
            if self.ignore_missing and not doc.has(path):
                continue
            doc.remove(path)


class RenameProcessor(Processor):
    type = "rename"

    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)
        self.field = cfg.string("field")
        self.target = cfg.string("target_field")
        self.ignore_missing = cfg.boolean("ignore_missing", False)
        self.override_target = cfg.boolean("override_target", False)

    def execute(self, doc: IngestDocument, ctx: RunContext) -> None:
        path, target = render_template(self.field, doc), render_template(self.target, doc)
        if not doc.has(path):
            if self.ignore_missing:
                return
            raise IngestProcessorError(f"field [{path}] doesn't exist")
        if doc.has(target) and not self.override_target:
            raise IngestProcessorError(f"field [{target}] already exists")
        value = doc.get(path)
        doc.remove(path)
        try:
            doc.set(target, value)
        except ModelNodeError:
            doc.set(path, value)  # put it back, as RenameProcessor does
            raise


class _StringProcessor(Processor):
    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)
        self.field = cfg.string("field")
        self.target = cfg.string("target_field", self.field)
        self.ignore_missing = cfg.boolean("ignore_missing", False)

    def convert(self, value: str) -> str:
        raise NotImplementedError

    def execute(self, doc: IngestDocument, ctx: RunContext) -> None:
        value = doc.get(self.field, None if self.ignore_missing else _MISSING)
        if value is None:
            if self.ignore_missing:
                return
            raise IngestProcessorError(f"field [{self.field}] is null, cannot process it.")
        if isinstance(value, list):
            out = []
            for v in value:
                if not isinstance(v, str):
                    raise IngestProcessorError(
                        f"value [{v}] of type [{java_type(v)}] in list field [{self.field}] cannot be cast to "
                        "[java.lang.String]"
                    )
                out.append(self.convert(v))
            doc.set(self.target, out)
            return
        if not isinstance(value, str):
            raise IngestProcessorError(
                f"field [{self.field}] of type [{java_type(value)}] cannot be cast to [java.lang.String]"
            )
        doc.set(self.target, self.convert(value))


class LowercaseProcessor(_StringProcessor):
    type = "lowercase"

    def convert(self, value: str) -> str:
        return value.lower()


class UppercaseProcessor(_StringProcessor):
    type = "uppercase"

    def convert(self, value: str) -> str:
        return value.upper()


class AppendProcessor(Processor):
    type = "append"

    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)
        self.field = cfg.string("field")
        self.value = cfg.any("value")
        self.allow_duplicates = cfg.boolean("allow_duplicates", True)

    def execute(self, doc: IngestDocument, ctx: RunContext) -> None:
        path = render_template(self.field, doc)
        values = _template_value(copy.deepcopy(self.value), doc)
        values = values if isinstance(values, list) else [values]
        if not self.allow_duplicates:
            current = doc.get(path, None)
            existing = current if isinstance(current, list) else ([] if current is None else [current])
            values = [v for i, v in enumerate(values) if v not in existing and v not in values[:i]]
            if not values and current is not None:
                return
        doc.set(path, values, append=True)


class FailProcessor(Processor):
    type = "fail"

    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)
        self.message = cfg.string("message")

    def execute(self, doc: IngestDocument, ctx: RunContext) -> None:
        raise FailProcessorError(render_template(self.message, doc))


class DropProcessor(Processor):
    type = "drop"

    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)

    def execute(self, doc: IngestDocument, ctx: RunContext) -> None:
        doc.dropped = True
