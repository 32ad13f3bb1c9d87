"""Fixtures for runtime unit tests (see ``_support`` for the tokenizer they build)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.runtime._support import MakeTokenizer, write_tokenizer


@pytest.fixture
def make_tokenizer(tmp_path: Path) -> MakeTokenizer:
    """``make_tokenizer(truncation=128, fixed_padding=128) -> path of tokenizer.json``."""
    counter = iter(range(1_000_000))

    def make(**kwargs: int | None) -> Path:
        return write_tokenizer(tmp_path / f"tok{next(counter)}" / "tokenizer.json", **kwargs)

    return make


@pytest.fixture
def artifact_dir(tmp_path: Path) -> Path:
    """An unpacked artifact for the fake backend: tokenizer.json and a placeholder model file."""
    folder = tmp_path / "artifact"
    write_tokenizer(folder / "tokenizer.json")
    (folder / "model.onnx").write_bytes(b"never read by the fake backend")
    return folder
