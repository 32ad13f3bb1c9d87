"""Shared real-weight fixtures: one repository build per test session (both formats)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MINILM = "huggingface/sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="session")
def offline() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        yield


@pytest.fixture(scope="session")
def repository(tmp_path_factory: pytest.TempPathFactory, offline: None) -> tuple[Path, list[Any]]:
    from modelnode.artifacts.build import build_repository

    out = tmp_path_factory.mktemp("repo")
    return out, build_repository(out)


@pytest.fixture(scope="session")
def reference(repository: tuple[Path, list[Any]]) -> Any:
    from sentence_transformers import SentenceTransformer

    from modelnode.artifacts.build import weights_dir

    return SentenceTransformer(str(weights_dir(MINILM)), device="cpu", local_files_only=True)
