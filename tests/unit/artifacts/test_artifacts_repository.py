"""ModelRepository: ML Commons' layout, config.json and zip fetching from http, file:// and folders."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from modelnode.artifacts import ModelRepository, artifact_stem
from modelnode.catalog import CATALOG, ModelFormat
from modelnode.config import OFFICIAL_MODEL_REPOSITORY
from modelnode.errors import ArtifactError

NAME = "huggingface/sentence-transformers/all-MiniLM-L6-v2"
ZIP_BYTES = b"PK\x05\x06" + bytes(18)  # an empty zip: fetch_zip does not inspect content
ZIP_SHA = hashlib.sha256(ZIP_BYTES).hexdigest()
CONFIG = {
    "name": NAME,
    "version": "1.0.2",
    "model_format": "TORCH_SCRIPT",
    "model_content_hash_value": ZIP_SHA,
}


def test_official_layout_matches_ml_commons() -> None:
    repo = ModelRepository(OFFICIAL_MODEL_REPOSITORY + "/")
    base = f"{OFFICIAL_MODEL_REPOSITORY}/{NAME}/1.0.2/torch_script"
    assert repo.config_url(NAME, "1.0.2", ModelFormat.TORCH_SCRIPT) == f"{base}/config.json"
    assert repo.zip_url(NAME, "1.0.2", "TORCH_SCRIPT") == (
        f"{base}/sentence-transformers_all-MiniLM-L6-v2-1.0.2-torch_script.zip"
    )
    assert repo.zip_url(NAME, "1.0.2", "onnx").endswith(
        "/1.0.2/onnx/sentence-transformers_all-MiniLM-L6-v2-1.0.2-onnx.zip"
    )


def test_stem_agrees_with_the_catalog_and_works_for_custom_names() -> None:
    for model in CATALOG:
        for version in model.versions:
            for fmt in model.formats:
                assert artifact_stem(model.name, version, fmt) == model.artifact_stem(version, fmt)
    assert artifact_stem("acme/team/sub/my-model", "2.0", "ONNX") == "team_sub_my-model-2.0-onnx"
    assert artifact_stem("solo", "1", "TORCH_SCRIPT") == "solo-1-torch_script"


@pytest.mark.parametrize(
    ("name", "version", "fmt", "message"),
    [
        ("a/../../etc", "1.0.0", "ONNX", "invalid model name '..'"),
        ("a//b", "1.0.0", "ONNX", "invalid model name ''"),
        ("a/b", "1/2", "ONNX", "invalid model version '1/2'"),
        ("a/b", "..", "ONNX", "invalid model version '..'"),
        ("a/b?x=1", "1.0.0", "ONNX", "invalid model name 'b\\?x=1'"),
        ("", "1.0.0", "ONNX", "model name is empty"),
        ("a/b", "1.0.0", "PICKLE", "unknown model_format 'PICKLE'"),
    ],
)
def test_bad_coordinates_are_refused(name: str, version: str, fmt: str, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        ModelRepository("/srv/models").zip_url(name, version, fmt)


def test_unsupported_root() -> None:
    with pytest.raises(ArtifactError, match="unsupported model repository 's3://bucket'"):
        ModelRepository("s3://bucket")


def _mirror(root: Path, config: object = CONFIG, zip_bytes: bytes = ZIP_BYTES) -> None:
    folder = root / NAME / "1.0.2" / "torch_script"
    folder.mkdir(parents=True)
    text = config if isinstance(config, str) else json.dumps(config)
    (folder / "config.json").write_text(text)
    (folder / "sentence-transformers_all-MiniLM-L6-v2-1.0.2-torch_script.zip").write_bytes(zip_bytes)


@pytest.mark.parametrize("as_uri", [False, True], ids=["plain-dir", "file-url"])
def test_local_mirror(tmp_path: Path, as_uri: bool) -> None:
    root = tmp_path / "mirror"
    _mirror(root)
    repo = ModelRepository(root.as_uri() if as_uri else str(root))
    config = repo.fetch_config(NAME, "1.0.2", "TORCH_SCRIPT")
    assert config == CONFIG
    calls: list[int] = []
    path = repo.fetch_zip(
        NAME,
        "1.0.2",
        "TORCH_SCRIPT",
        tmp_path / "dl",
        expected_sha256=config["model_content_hash_value"],
        progress=lambda done, total: calls.append(done),
    )
    assert path == tmp_path / "dl" / "sentence-transformers_all-MiniLM-L6-v2-1.0.2-torch_script.zip"
    assert path.read_bytes() == ZIP_BYTES
    assert calls[-1] == len(ZIP_BYTES)


def test_local_mirror_missing_version(tmp_path: Path) -> None:
    _mirror(tmp_path)
    repo = ModelRepository(tmp_path)
    with pytest.raises(ArtifactError, match=r"1\.0\.1/torch_script/config\.json was not found"):
        repo.fetch_config(NAME, "1.0.1", "TORCH_SCRIPT")
    with pytest.raises(ArtifactError, match=r"1\.0\.2/onnx/.*-onnx\.zip was not found"):
        repo.fetch_zip(NAME, "1.0.2", "ONNX", tmp_path / "dl", expected_sha256=ZIP_SHA)


def test_fetch_zip_requires_a_hash_and_checks_it(tmp_path: Path) -> None:
    _mirror(tmp_path)
    repo = ModelRepository(tmp_path)
    with pytest.raises(ArtifactError, match="Model content Hash code need to be provided"):
        repo.fetch_zip(NAME, "1.0.2", "TORCH_SCRIPT", tmp_path / "dl", expected_sha256=None)
    with pytest.raises(ArtifactError, match="model content changed"):
        repo.fetch_zip(NAME, "1.0.2", "TORCH_SCRIPT", tmp_path / "dl", expected_sha256="f" * 64)
    assert not list((tmp_path / "dl").iterdir())


def test_fetch_zip_size_limit(tmp_path: Path) -> None:
    _mirror(tmp_path)
    repo = ModelRepository(tmp_path, max_bytes=5)
    with pytest.raises(ArtifactError, match="larger than the limit of 5 bytes"):
        repo.fetch_zip(NAME, "1.0.2", "TORCH_SCRIPT", tmp_path / "dl", expected_sha256=ZIP_SHA)


def test_http_repository(http_server, tmp_path: Path) -> None:
    base = f"/models/{NAME}/1.0.2/torch_script"
    http_server.add(f"{base}/config.json", json.dumps(CONFIG).encode())
    http_server.add(f"{base}/sentence-transformers_all-MiniLM-L6-v2-1.0.2-torch_script.zip", ZIP_BYTES)
    repo = ModelRepository(http_server.url("/models"), timeout=5)
    config = repo.fetch_config(NAME, "1.0.2", "TORCH_SCRIPT")
    assert config["model_content_hash_value"] == ZIP_SHA
    path = repo.fetch_zip(NAME, "1.0.2", "TORCH_SCRIPT", tmp_path, expected_sha256=ZIP_SHA)
    assert path.read_bytes() == ZIP_BYTES
    url = repo.config_url(NAME, "1.0.1", "TORCH_SCRIPT")
    with pytest.raises(ArtifactError, match=rf"{url} was not found \(HTTP 404\)"):
        repo.fetch_config(NAME, "1.0.1", "TORCH_SCRIPT")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", r"is not a JSON object \(got list\)"),
        ("\udcff", "is not valid JSON"),
    ],
    ids=["invalid-json", "json-array", "not-utf8"],
)
def test_broken_config(http_server, body: str, message: str) -> None:
    raw = body.encode("utf-8", errors="surrogateescape")
    http_server.add(f"/r/{NAME}/1.0.2/torch_script/config.json", raw)
    repo = ModelRepository(http_server.url("/r"))
    url = repo.config_url(NAME, "1.0.2", "TORCH_SCRIPT")
    with pytest.raises(ArtifactError, match=rf"model config {url} {message}"):
        repo.fetch_config(NAME, "1.0.2", "TORCH_SCRIPT")
