"""ArtifactStore: atomic, idempotent, content-addressed; leftovers are never trusted and are swept."""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
from pathlib import Path

import pytest

from modelnode.artifacts import ArtifactStore
from modelnode.artifacts import store as store_mod
from modelnode.catalog import FunctionName, ModelFormat
from modelnode.errors import ArtifactError

TOKENIZER = b'{"version": "1.0", "model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}}'
PT = b"torchscript-bytes" * 20
TS = ModelFormat.TORCH_SCRIPT
EMB = FunctionName.TEXT_EMBEDDING
REAL_SPARSE_ZIP = Path("/work/shared/models/opensearch-bert-uncased-idf.zip")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "store")


@pytest.fixture
def good_zip(make_zip) -> Path:
    return make_zip({"model.pt": PT, "tokenizer.json": TOKENIZER, "LICENSE": b"Apache-2.0"})


def _leftovers(store: ArtifactStore) -> list[str]:
    return sorted(p.name for p in store.root.iterdir() if p.name.startswith("."))


def test_add_unpacks_with_a_manifest(store: ArtifactStore, good_zip: Path) -> None:
    digest = sha(good_zip)
    path = store.add(good_zip, digest, model_format=TS, function_name=EMB)
    assert path == store.root / digest
    assert (path / "model.pt").read_bytes() == PT
    assert (path / "tokenizer.json").read_bytes() == TOKENIZER
    manifest = json.loads((path / "artifact.json").read_text())
    assert manifest == store.manifest(digest)
    assert manifest["sha256"] == digest
    assert manifest["model_format"] == "TORCH_SCRIPT"
    assert manifest["function_name"] == "TEXT_EMBEDDING"
    assert manifest["model_file"] == "model.pt"
    assert manifest["tokenizer_file"] == "tokenizer.json"
    assert manifest["model_content_size_in_bytes"] == good_zip.stat().st_size
    assert manifest["files"] == [
        {"path": "model.pt", "size": len(PT)},
        {"path": "tokenizer.json", "size": len(TOKENIZER)},
        {"path": "LICENSE", "size": 10},
    ]
    assert store.get(digest) == path
    assert digest in store
    assert good_zip.exists()  # the caller owns the zip
    assert _leftovers(store) == []


def test_add_is_idempotent(store: ArtifactStore, good_zip: Path) -> None:
    digest = sha(good_zip)
    first = store.add(good_zip, digest, model_format=TS, function_name=EMB)
    stamp = (first / "artifact.json").stat().st_mtime_ns
    second = store.add(good_zip, digest.upper(), model_format="torch_script", function_name="text_embedding")
    assert second == first
    assert (first / "artifact.json").stat().st_mtime_ns == stamp  # not rewritten
    assert [p.name for p in store.root.iterdir()] == [digest]


def test_idempotent_add_still_checks_the_requested_function(store: ArtifactStore, make_zip) -> None:
    zip_path = make_zip({"tokenizer.json": TOKENIZER, "idf.json": b"{}"})
    digest = sha(zip_path)
    store.add(zip_path, digest, model_format=TS, function_name=FunctionName.SPARSE_TOKENIZE)
    with pytest.raises(ArtifactError, match="can't find model file"):
        store.add(zip_path, digest, model_format=TS, function_name=EMB)


def test_folder_zip_is_flattened(store: ArtifactStore, make_zip) -> None:
    zip_path = make_zip([("m/", b""), ("m/model.pt", PT), ("m/tokenizer.json", TOKENIZER), ("m/x/y.txt", b"y")])
    path = store.add(zip_path, sha(zip_path), model_format=TS, function_name=EMB)
    assert sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()) == [
        "artifact.json",
        "model.pt",
        "tokenizer.json",
        "x/y.txt",
    ]


def test_wrong_hash_stores_nothing(store: ArtifactStore, good_zip: Path) -> None:
    with pytest.raises(ArtifactError, match=f"model content changed: .* is {sha(good_zip)} but {'a' * 64}"):
        store.add(good_zip, "a" * 64, model_format=TS, function_name=EMB)
    assert list(store.root.iterdir()) == []


def test_a_broken_zip_stores_nothing(store: ArtifactStore, make_zip) -> None:
    zip_path = make_zip({"model.pt": PT, "tokenizer.json": TOKENIZER, "../evil": b"x"})
    with pytest.raises(ArtifactError, match="path traversal"):
        store.add(zip_path, sha(zip_path), model_format=TS, function_name=EMB)
    assert list(store.root.iterdir()) == []


def test_corrupt_member_found_while_unpacking_leaves_nothing(store: ArtifactStore, make_zip, tmp_path) -> None:
    raw = make_zip(
        {"model.pt": PT, "tokenizer.json": TOKENIZER, "z.bin": b"Z" * 64}, compression=zipfile.ZIP_STORED
    ).read_bytes()
    bad = tmp_path / "bad.zip"
    bad.write_bytes(raw.replace(b"Z" * 64, b"Q" * 64))
    digest = sha(bad)
    with pytest.raises(ArtifactError, match=r"entry 'z.bin' is corrupt or truncated"):
        store.add(bad, digest, model_format=TS, function_name=EMB)
    assert store.get(digest) is None
    assert list(store.root.iterdir()) == []


def test_crash_before_publish_leaves_no_entry(
    store: ArtifactStore, good_zip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def die(path: Path, data: object) -> None:
        raise KeyboardInterrupt  # e.g. the process is told to stop mid-add

    monkeypatch.setattr(store_mod, "_write_json", die)
    digest = sha(good_zip)
    with pytest.raises(KeyboardInterrupt):
        store.add(good_zip, digest, model_format=TS, function_name=EMB)
    assert store.get(digest) is None
    assert list(store.root.iterdir()) == []


def test_half_written_entries_are_not_trusted_and_are_swept(store: ArtifactStore, good_zip: Path) -> None:
    digest = sha(good_zip)
    # A killed add(): files unpacked straight into the final name, no manifest.
    half = store.root / digest
    half.mkdir()
    (half / "model.pt").write_bytes(PT[:10])
    # A killed add() in its temp folder, and a killed remove().
    (store.root / f".tmp-{digest[:12]}-xyz").mkdir()
    (store.root / f".trash-{digest[:12]}-xyz").mkdir()
    (store.root / "README.txt").write_text("not ours")  # left alone
    assert store.get(digest) is None
    assert store.manifest(digest) is None
    assert store.sweep(older_than_s=3600) == []  # all recent: a running add() keeps its folder
    removed = store.sweep()
    assert sorted(removed) == sorted([digest, f".tmp-{digest[:12]}-xyz", f".trash-{digest[:12]}-xyz"])
    assert sorted(p.name for p in store.root.iterdir()) == ["README.txt"]


def test_damaged_entry_is_not_returned_and_add_repairs_it(store: ArtifactStore, good_zip: Path) -> None:
    digest = sha(good_zip)
    path = store.add(good_zip, digest, model_format=TS, function_name=EMB)
    (path / "model.pt").write_bytes(b"truncated")
    assert store.get(digest) is None
    assert store.add(good_zip, digest, model_format=TS, function_name=EMB) == path
    assert (path / "model.pt").read_bytes() == PT
    (path / "tokenizer.json").unlink()
    assert store.get(digest) is None
    (path / "artifact.json").write_text('{"sha256": "' + "b" * 64 + '", "files": []}')  # foreign manifest
    assert store.get(digest) is None
    assert store.add(good_zip, digest, model_format=TS, function_name=EMB) == path
    assert store.get(digest) == path
    assert _leftovers(store) == []


def test_remove(store: ArtifactStore, good_zip: Path) -> None:
    digest = sha(good_zip)
    store.add(good_zip, digest, model_format=TS, function_name=EMB)
    assert store.remove(digest) is True
    assert store.get(digest) is None
    assert store.remove(digest) is False
    assert list(store.root.iterdir()) == []


@pytest.mark.parametrize("bad", ["../../etc", "a" * 63, "g" * 64, ""])
def test_hash_keys_are_validated(store: ArtifactStore, bad: str) -> None:
    with pytest.raises(ArtifactError, match="must be a SHA-256 hex digest"):
        store.get(bad)
    with pytest.raises(ArtifactError, match="must be a SHA-256 hex digest"):
        store.remove(bad)


def test_reserved_manifest_name(store: ArtifactStore, make_zip) -> None:
    zip_path = make_zip({"model.pt": PT, "tokenizer.json": TOKENIZER, "artifact.json": b"{}"})
    with pytest.raises(ArtifactError, match="reserves for its manifest"):
        store.add(zip_path, sha(zip_path), model_format=TS, function_name=EMB)


def test_concurrent_adds_of_the_same_artifact(store: ArtifactStore, good_zip: Path) -> None:
    digest = sha(good_zip)
    results: list[Path] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def worker() -> None:
        start.wait()
        try:
            results.append(store.add(good_zip, digest, model_format=TS, function_name=EMB))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(results) == {store.root / digest}
    assert [p.name for p in store.root.iterdir()] == [digest]
    assert store.get(digest) is not None


def test_incoming_dir_partials_are_swept(store: ArtifactStore) -> None:
    partial = store.incoming_dir / "x.zip.abc.partial"
    partial.write_bytes(b"half")
    store.sweep()
    assert not partial.exists()
    assert store.incoming_dir.is_dir()


@pytest.mark.skipif(not REAL_SPARSE_ZIP.is_file(), reason="shared model files not available")
def test_real_sparse_tokenizer_artifact(store: ArtifactStore) -> None:
    digest = sha(REAL_SPARSE_ZIP)
    path = store.add(REAL_SPARSE_ZIP, digest, model_format=TS, function_name=FunctionName.SPARSE_TOKENIZE)
    manifest = store.manifest(digest)
    assert manifest is not None
    assert manifest["model_file"] is None
    assert manifest["function_name"] == "SPARSE_TOKENIZE"
    assert manifest["model_content_size_in_bytes"] == REAL_SPARSE_ZIP.stat().st_size
    idf = json.loads((path / "idf.json").read_text())
    assert len(idf) == 30522  # bert-base-uncased vocabulary
    assert json.loads((path / "tokenizer.json").read_text())["model"]["type"] == "WordPiece"
