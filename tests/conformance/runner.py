"""A small runner for OpenSearch's API-spec test stories (``../shared/api-spec/tests``).

A story (format: ``json_schemas/test_story.schema.yaml``) is prologues, chapters and epilogues.
Each step has a ``path`` whose ``{name}`` placeholders come from ``parameters`` (the rest of the
parameters become the query string), a ``method``, an optional ``request.payload`` (JSON, or NDJSON
when ``request.content_type`` says so or the payload is a list), ``retry`` and ``output``; a string
``${chapter_id.name}`` anywhere is replaced by an earlier step's output.

What is checked, as the upstream TypeScript tool does it:

- prologues and epilogues: only the status, against their ``status`` list (default [200, 201]);
  epilogues always run, even after a failure.
- chapters: the expected ``response.status``; the expected ``response.payload`` as a partial
  match (see :func:`first_difference`); and the response body against the response schema that
  ``spec/`` gives for that operation and status (``$ref``s across files resolved with
  ``referencing``, validated as JSON Schema 2020-12 by ``jsonschema``). A status the spec does
  not describe is not schema-checked.
- ``version`` ranges are compared with the version GET / reports; ``distributions`` and
  ``warnings`` are accepted and ignored (modelnode is a self-managed "opensearch.org" node).

Two deliberate departures, both for speed against a local process:

- ``retry`` polls every :data:`RETRY_POLL_S` seconds until the expectation holds, for up to
  ``count * wait`` but never longer than :data:`RETRY_MAX_S` (stories wait 10-30 s between tries
  for a remote cluster to download a model).
- models: stories hard-code pretrained models that an offline repository does not hold; a
  registration of one of them is rewritten to the substitute in :data:`MODEL_SUBSTITUTES`, and the
  substitution is printed.
"""

from __future__ import annotations

import copy
import json
import re
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# -- model substitution --------------------------------------------------------------------------
# (name, version, model_format) in a story -> what the local repository has instead. A story that
# sizes a knn_vector field for the original model gets the substitute's dimension ("dimension").
MODEL_SUBSTITUTES: dict[tuple[str, str, str], dict[str, Any]] = {
    ("huggingface/sentence-transformers/msmarco-distilbert-base-tas-b", "1.0.1", "TORCH_SCRIPT"): {
        "name": "huggingface/sentence-transformers/all-MiniLM-L6-v2",
        "version": "1.0.2",
        "model_format": "TORCH_SCRIPT",
        "dimension": {768: 384},
    },
    ("huggingface/sentence-transformers/msmarco-distilbert-base-tas-b", "1.0.2", "TORCH_SCRIPT"): {
        "name": "huggingface/sentence-transformers/all-MiniLM-L6-v2",
        "version": "1.0.2",
        "model_format": "TORCH_SCRIPT",
        "dimension": {768: 384},
    },
}

RETRY_POLL_S = 0.05
RETRY_MAX_S = 15.0
SUPPLEMENTAL_OK = [200, 201]
DISTRIBUTION = "opensearch.org"
_VAR = re.compile(r"\$\{([^}]+)\}")


# -- the OpenAPI spec: find an operation, validate a body ------------------------------------------
class Spec:
    """The OpenAPI description under ``spec_dir`` (namespaces/*.yaml, schemas/*.yaml)."""

    def __init__(self, spec_dir: Path) -> None:
        self.spec_dir = spec_dir.resolve()
        self._ops: dict[tuple[str, str], tuple[Path, str]] = {}  # (METHOD, normalised path) -> (file, path)
        for file in sorted((self.spec_dir / "namespaces").glob("*.yaml")):
            for path, item in (_load_yaml(file).get("paths") or {}).items():
                for method in item:
                    key = (method.upper(), _normalise(path))
                    self._ops.setdefault(key, (file, path))
        self._registry: Registry = Registry(retrieve=self._retrieve)  # type: ignore[call-arg]
        self._validators: dict[tuple[str, str, int], Draft202012Validator | None] = {}

    @staticmethod
    def _retrieve(uri: str) -> Resource:
        path = Path(uri.removeprefix("file://"))
        return Resource.from_contents(_load_yaml(path), default_specification=DRAFT202012)

    def operation(self, method: str, path_template: str, concrete_path: str) -> tuple[Path, str] | None:
        found = self._ops.get((method, _normalise(path_template)))
        if found is not None:
            return found
        best: tuple[int, tuple[Path, str]] | None = None  # the most literal template that matches
        for (m, norm), value in self._ops.items():
            if m == method and re.fullmatch(re.escape(norm).replace(r"\{\}", "[^/]+"), concrete_path):
                literal = len(norm.replace("{}", ""))
                if best is None or literal > best[0]:
                    best = (literal, value)
        return best[1] if best else None

    def validator(
        self, method: str, path_template: str, concrete_path: str, status: int
    ) -> Draft202012Validator | None:
        key = (method, path_template, status)
        if key not in self._validators:
            self._validators[key] = self._make_validator(method, path_template, concrete_path, status)
        return self._validators[key]

    def _make_validator(self, method: str, template: str, concrete: str, status: int) -> Draft202012Validator | None:
        found = self.operation(method, template, concrete)
        if found is None:
            return None
        file, spec_path = found
        doc = _load_yaml(file)
        response = doc["paths"][spec_path][method.lower()].get("responses", {}).get(str(status))
        if response is None:
            return None
        pointer = f"/paths/{_escape(spec_path)}/{method.lower()}/responses/{status}"
        if "$ref" in response:
            ref = response["$ref"]
            assert ref.startswith("#"), ref
            pointer = ref[1:]
            response = _resolve_pointer(doc, pointer)
        schema = (response.get("content") or {}).get("application/json", {}).get("schema")
        if schema is None:
            return None
        root = {"$ref": f"{file.as_uri()}#{pointer}/content/application~1json/schema"}
        return Draft202012Validator(root, registry=self._registry)

    def describe(self, method: str, template: str, concrete: str) -> str:
        found = self.operation(method, template, concrete)
        return f"{found[0].name} {method} {found[1]}" if found else f"(no operation for {method} {template})"


@cache
def _load_yaml(path: Path) -> Any:
    with path.open() as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _normalise(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", "/" + path.lstrip("/"))


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _resolve_pointer(doc: Any, pointer: str) -> Any:
    for token in pointer.lstrip("/").split("/"):
        doc = doc[token.replace("~1", "/").replace("~0", "~")]
    return doc


# -- comparing --------------------------------------------------------------------------------------
def first_difference(expected: Any, actual: Any, where: str = "payload") -> str | None:
    """Partial match, as the upstream tool does it (json-diff-ts, ADD changes ignored): every key
    of an expected object must be in the actual one with a matching value; lists are compared
    index by index and the actual list may be longer; scalars must be equal (1 == 1.0)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {_short(actual)}"
        for key, value in expected.items():
            if key not in actual:
                return f"{where}.{key}: missing (expected {_short(value)})"
            diff = first_difference(value, actual[key], f"{where}.{key}")
            if diff:
                return diff
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: expected a list, got {_short(actual)}"
        for i, value in enumerate(expected):
            if i >= len(actual):
                return f"{where}[{i}]: missing (expected {_short(value)}, got {len(actual)} items)"
            diff = first_difference(value, actual[i], f"{where}[{i}]")
            if diff:
                return diff
        return None
    if expected != actual or isinstance(expected, bool) != isinstance(actual, bool):
        return f"{where}: expected {_short(expected)}, got {_short(actual)}"
    return None


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def version_matches(spec: str, version: str) -> bool:
    """A semver range such as ``>= 2.11``, ``>=2.19 <3`` or ``3`` (a bare version is a prefix)."""
    have = _vtuple(version)
    for op, ver in re.findall(r"(>=|<=|>|<|=)?\s*([0-9][0-9.x]*)", spec):
        want = _vtuple(ver)
        mine = have[: len(want)] if not op or op == "=" else have
        if op in ("", "="):
            ok = mine == want
        else:
            pad = want + (0,) * (len(have) - len(want))
            ok = {">=": have >= pad, ">": have > pad, "<=": have <= pad, "<": have < pad}[op]
        if not ok:
            return False
    return True


def _vtuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version.split("-")[0])[:3])


# -- running ----------------------------------------------------------------------------------------
@dataclass
class ChapterResult:
    synopsis: str
    outcome: str  # "passed" | "failed" | "skipped"
    detail: str = ""


@dataclass
class StoryResult:
    story: str
    skipped: str | None = None  # the reason, when the whole story did not run
    chapters: list[ChapterResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # prologue/epilogue failures
    substitutions: list[str] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(c.outcome == "passed" for c in self.chapters)

    @property
    def total(self) -> int:
        return sum(c.outcome != "skipped" for c in self.chapters)

    @property
    def ok(self) -> bool:
        return not self.errors and all(c.outcome != "failed" for c in self.chapters)

    def first_failure(self) -> str:
        for c in self.chapters:
            if c.outcome == "failed":
                return f"{c.synopsis} {c.detail}"
        return self.errors[0] if self.errors else ""


class StoryRunner:
    def __init__(self, base_url: str, spec: Spec, *, log: Any = print) -> None:
        self.http = httpx.Client(base_url=base_url, trust_env=False, timeout=60.0)
        self.spec = spec
        self.log = log
        self.server_version = self.http.get("/").json()["version"]["number"]

    def close(self) -> None:
        self.http.close()

    def run(self, story_path: Path, name: str, skip_chapters: dict[str, str] | None = None) -> StoryResult:
        story = yaml.safe_load(story_path.read_text())
        result = StoryResult(name)
        reason = self._not_applicable(story)
        if reason:
            result.skipped = reason
            return result
        skip_chapters = skip_chapters or {}
        outputs: dict[str, dict[str, Any]] = {}
        dimensions: dict[int, int] = {}
        try:
            for step in story.get("prologues") or []:
                error = self._supplemental(step, outputs, dimensions, result, "prologue")
                if error:
                    result.errors.append(error)
                    break
            for chapter in story["chapters"]:
                synopsis = chapter["synopsis"]
                if result.errors:
                    result.chapters.append(ChapterResult(synopsis, "failed", "(a prologue failed)"))
                    continue
                if synopsis in skip_chapters:
                    result.chapters.append(ChapterResult(synopsis, "skipped", skip_chapters[synopsis]))
                    continue
                if "pending" in chapter:
                    result.chapters.append(ChapterResult(synopsis, "skipped", f"pending: {chapter['pending']}"))
                    continue
                reason = self._not_applicable(chapter)
                if reason:
                    result.chapters.append(ChapterResult(synopsis, "skipped", reason))
                    continue
                detail = self._chapter(chapter, outputs, dimensions, result)
                result.chapters.append(ChapterResult(synopsis, "failed" if detail else "passed", detail or ""))
        finally:
            for step in story.get("epilogues") or []:
                error = self._supplemental(step, outputs, dimensions, result, "epilogue")
                if error:
                    result.errors.append(error)
        return result

    def _not_applicable(self, item: dict[str, Any]) -> str | None:
        if "version" in item and not version_matches(str(item["version"]), self.server_version):
            return f"needs OpenSearch {item['version']}; modelnode reports {self.server_version}"
        dist = item.get("distributions") or {}
        if DISTRIBUTION in (dist.get("excluded") or []) or (
            dist.get("included") and DISTRIBUTION not in dist["included"]
        ):
            return f"not for the {DISTRIBUTION} distribution"
        return None

    def _supplemental(
        self, step: dict[str, Any], outputs: dict[str, Any], dims: dict[int, int], result: StoryResult, kind: str
    ) -> str | None:
        statuses = step.get("status", SUPPLEMENTAL_OK)
        try:
            response, _, _, diff = self._exchange(step, statuses, outputs, dims, result)
        except KeyError as e:  # an output of a step that failed: that failure is reported already
            return None if kind == "epilogue" else f"{kind} {step['method']} {step['path']}: {e}"
        except httpx.HTTPError as e:
            return f"{kind} {step['method']} {step['path']}: {e}"
        if diff:
            return f"{kind} {step['method']} {step['path']}: {diff}"
        self._record_output(step, response, outputs)
        return None

    def _chapter(
        self, chapter: dict[str, Any], outputs: dict[str, Any], dims: dict[int, int], result: StoryResult
    ) -> str | None:
        want = (chapter.get("response") or {}).get("status", 200)
        try:
            response, method, concrete, diff = self._exchange(
                chapter, want if isinstance(want, list) else [want], outputs, dims, result
            )
        except (KeyError, httpx.HTTPError) as e:
            return f"request not sent: {e}"
        if diff:
            return diff
        self._record_output(chapter, response, outputs)
        body = _body(response)
        if method != "HEAD" and body is not None:
            validator = self.spec.validator(method, chapter["path"], concrete, response.status_code)
            if validator is not None:
                errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
                if errors:
                    e = errors[0]
                    where = "payload" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path)
                    return (
                        f"schema ({self.spec.describe(method, chapter['path'], concrete)}): {where}: "
                        f"{_short(e.message, 240)} ({len(errors)} error(s))"
                    )
        return None

    def _exchange(
        self, step: dict[str, Any], statuses: list[int], outputs: dict[str, Any], dims: dict[int, int], r: StoryResult
    ) -> tuple[httpx.Response, str, str, str | None]:
        """Send the step (again, while ``retry`` allows) until the status and payload match."""
        expected = step.get("response") or {}
        retry = step.get("retry")
        budget = min(RETRY_MAX_S, retry["count"] * retry.get("wait", 1000) / 1000) if retry else 0
        deadline = time.monotonic() + budget
        while True:
            response, method, concrete = self._send(step, outputs, dims, r)
            body = _body(response)
            diff = None
            if response.status_code not in statuses:
                diff = f"status {response.status_code}, expected {statuses}: {_short(body, 300)}"
            elif "payload" in expected:
                diff = first_difference(_resolve(expected["payload"], outputs), body)
            if diff is None and retry:  # a retried step also waits for what it outputs to appear
                missing = [n for n, p in (step.get("output") or {}).items() if _output_missing(p, body)]
                diff = f"output {missing} not in the response yet" if missing else None
            if diff is None or time.monotonic() >= deadline:
                return response, method, concrete, diff
            time.sleep(RETRY_POLL_S)

    def _send(
        self, step: dict[str, Any], outputs: dict[str, Any], dims: dict[int, int], result: StoryResult
    ) -> tuple[httpx.Response, str, str]:
        method = step["method"] if isinstance(step["method"], str) else step["method"][0]
        params = _resolve(step.get("parameters") or {}, outputs)
        path = "/" + step["path"].lstrip("/")

        def fill(m: re.Match[str]) -> str:
            return quote(_param(params.pop(m.group(1))), safe=",*")

        concrete = re.sub(r"\{([^}]+)\}", fill, path)
        query = {k: _param(v) for k, v in params.items()}
        request = step.get("request") or {}
        headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
        content: bytes | None = None
        if "payload" in request:
            payload = self._substitute_models(_resolve(request["payload"], outputs), dims, result)
            content_type = request.get("content_type", "application/json")
            if isinstance(payload, list) and content_type != "application/json":  # NDJSON (_bulk)
                content = "".join(json.dumps(line) + "\n" for line in payload).encode()
            elif isinstance(payload, str) and content_type != "application/json":
                content = payload.encode()
            else:
                content = json.dumps(payload).encode()
            headers.setdefault("Content-Type", content_type)
        response = self.http.request(method, concrete, params=query, content=content, headers=headers)
        return response, method, concrete

    def _substitute_models(self, payload: Any, dims: dict[int, int], result: StoryResult) -> Any:
        if not isinstance(payload, dict):
            return payload
        key = (payload.get("name"), str(payload.get("version")), payload.get("model_format"))
        sub = MODEL_SUBSTITUTES.get(key)  # type: ignore[arg-type]
        if sub is not None and "model_config" not in payload and "url" not in payload:
            payload = {**payload, **{k: sub[k] for k in ("name", "version", "model_format")}}
            dims.update(sub.get("dimension", {}))
            note = f"model {key[0]} {key[1]} {key[2]} -> {sub['name']} {sub['version']} {sub['model_format']}"
            if note not in result.substitutions:
                result.substitutions.append(note)
                self.log(f"[conformance] {result.story}: substituted {note}")
        if dims and "mappings" in payload:
            payload = copy.deepcopy(payload)
            _resize_vectors(payload["mappings"], dims)
        return payload

    @staticmethod
    def _record_output(step: dict[str, Any], response: httpx.Response, outputs: dict[str, Any]) -> None:
        if "output" not in step or "id" not in step:
            return
        body = _body(response)
        values: dict[str, Any] = {}
        for name, spec in step["output"].items():
            path, default = (spec["path"], spec.get("default")) if isinstance(spec, dict) else (spec, None)
            values[name] = _extract(path, body, response.headers, default)
        outputs[step["id"]] = values


def _output_missing(spec: Any, body: Any) -> bool:
    if isinstance(spec, dict):
        return False  # it has a default
    return _extract(spec, body, httpx.Headers(), _MISSING) is _MISSING


_MISSING = object()


def _resize_vectors(node: Any, dims: dict[int, int]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "knn_vector" and node.get("dimension") in dims:
            node["dimension"] = dims[node["dimension"]]
        for value in node.values():
            _resize_vectors(value, dims)


def _body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_param(v) for v in value)
    return str(value)


def _resolve(value: Any, outputs: dict[str, Any]) -> Any:
    """Replace ``${chapter_id.name}``; a string that is exactly one reference keeps the value's type."""
    if isinstance(value, dict):
        return {k: _resolve(v, outputs) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, outputs) for v in value]
    if isinstance(value, str) and "${" in value:
        whole = _VAR.fullmatch(value)
        if whole:
            return _lookup(whole.group(1), outputs)
        return _VAR.sub(lambda m: str(_lookup(m.group(1), outputs)), value)
    return value


def _lookup(ref: str, outputs: dict[str, Any]) -> Any:
    chapter, _, name = ref.partition(".")
    if chapter not in outputs or name not in outputs[chapter]:
        raise KeyError(f"no output ${{{ref}}} (its chapter failed or did not run)")
    return outputs[chapter][name]


def _extract(path: str, body: Any, headers: httpx.Headers, default: Any) -> Any:
    m = re.fullmatch(r"(payload|headers)\.?(.*)", path)  # "payload.a.b[0]", "payload[0].id", "headers.x"
    if m is None:
        return default
    source, rest = m.groups()
    if source == "headers":
        return headers.get(rest, default)
    value = body
    for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", rest):
        try:
            value = value[int(index)] if index else value[key]
        except (KeyError, IndexError, TypeError):
            return default
    return value
