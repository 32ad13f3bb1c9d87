"""The model repository: ML Commons' layout for pretrained artifacts under one root.

    {root}/{name}/{version}/{fmt_lower}/config.json
    {root}/{name}/{version}/{fmt_lower}/{stem}.zip      stem = artifact_stem(name, version, fmt)

``root`` is ``http(s)://...`` (default: the official artifact host), ``file:///...`` or a plain
directory path, so an offline mirror is just a folder with the same layout.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from modelnode import catalog
from modelnode.artifacts.download import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, Progress, download, read_bytes
from modelnode.catalog import ModelFormat
from modelnode.errors import ArtifactError

# config.json carries the HF config as a string; a few hundred KB at most.
MAX_CONFIG_BYTES = 16 * 1024 * 1024


def artifact_stem(name: str, version: str, model_format: ModelFormat | str) -> str:
    """The zip's file name without ``.zip``, as ML Commons' ModelHelper builds it (the same rule as
    ``PretrainedModel.artifact_stem``, without needing a catalog entry): the name without its first
    segment, slashes as underscores, then ``-{version}-{format_lower}``. A name without a slash
    is used whole."""
    fmt = _format(model_format)
    _check_name(name)
    _check_version(version)
    return catalog.artifact_stem(name, version, fmt.value)


class ModelRepository:
    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        text = os.fspath(root)
        scheme = urlparse(text).scheme.lower()
        if scheme in ("http", "https", "file"):
            self._remote = True
            self.root = text.rstrip("/")
        elif scheme == "" or len(scheme) == 1:  # a path (len 1: Windows drive letter)
            self._remote = False
            self.root = str(Path(text).expanduser().absolute())
        else:
            raise ArtifactError(
                f"unsupported model repository {text!r}: use http(s)://, file:// or a local directory path"
            )
        self.max_bytes = max_bytes
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ModelRepository({self.root!r})"

    # --- layout ------------------------------------------------------------------------------

    def model_dir_url(self, name: str, version: str, model_format: ModelFormat | str) -> str:
        _check_name(name)
        _check_version(version)
        parts = [*name.split("/"), version, _format(model_format).value.lower()]
        return self._join(parts)

    def config_url(self, name: str, version: str, model_format: ModelFormat | str) -> str:
        return self._join_file(self.model_dir_url(name, version, model_format), "config.json")

    def zip_url(self, name: str, version: str, model_format: ModelFormat | str) -> str:
        stem = artifact_stem(name, version, model_format)
        return self._join_file(self.model_dir_url(name, version, model_format), f"{stem}.zip")

    # --- fetching ----------------------------------------------------------------------------

    def fetch_config(self, name: str, version: str, model_format: ModelFormat | str) -> dict[str, Any]:
        """The artifact's config.json as a dict; ArtifactError (naming the URL) when it is missing,
        unreachable, or not a JSON object."""
        url = self.config_url(name, version, model_format)
        raw = read_bytes(url, max_bytes=MAX_CONFIG_BYTES, timeout=self.timeout)
        try:
            config = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ArtifactError(f"model config {url} is not valid JSON ({exc}); the repository is broken") from None
        if not isinstance(config, dict):
            raise ArtifactError(
                f"model config {url} is not a JSON object (got {type(config).__name__}); the repository is broken"
            )
        return config

    def fetch_zip(
        self,
        name: str,
        version: str,
        model_format: ModelFormat | str,
        dest_dir: str | os.PathLike[str],
        *,
        expected_sha256: str | None,
        progress: Progress | None = None,
    ) -> Path:
        """Download the artifact zip into ``dest_dir`` (as ``{stem}.zip``), verified against
        ``expected_sha256`` (config.json's ``model_content_hash_value``), which is required."""
        if not expected_sha256:
            raise ArtifactError(
                "Model content Hash code need to be provided when register via url. Please calculate "
                "sha 256 Hash code. (the model's config.json has no model_content_hash_value)"
            )
        stem = artifact_stem(name, version, model_format)
        path, _ = download(
            self.zip_url(name, version, model_format),
            dest_dir,
            expected_sha256=expected_sha256,
            max_bytes=self.max_bytes,
            progress=progress,
            timeout=self.timeout,
            filename=f"{stem}.zip",
        )
        return path

    # --- internals ---------------------------------------------------------------------------

    def _join(self, parts: list[str]) -> str:
        if self._remote:
            return "/".join([self.root, *(quote(p, safe="") for p in parts)])
        return str(Path(self.root, *parts))

    def _join_file(self, folder: str, file_name: str) -> str:
        if self._remote:
            return f"{folder}/{quote(file_name, safe='')}"
        return str(Path(folder, file_name))


def _format(value: ModelFormat | str) -> ModelFormat:
    try:
        return ModelFormat(str(value).upper())
    except ValueError:
        raise ArtifactError(f"unknown model_format {value!r}; use TORCH_SCRIPT or ONNX") from None


def _check_segment(value: str, what: str) -> None:
    if not value or value in (".", "..") or any(c in value for c in "\\?#%") or any(ord(c) < 32 for c in value):
        raise ArtifactError(f"invalid model {what} {value!r} for the model repository layout")


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise ArtifactError("model name is empty")
    for segment in name.split("/"):
        _check_segment(segment, "name")


def _check_version(version: str) -> None:
    if not isinstance(version, str) or "/" in version:
        raise ArtifactError(f"invalid model version {version!r} for the model repository layout")
    _check_segment(version, "version")
