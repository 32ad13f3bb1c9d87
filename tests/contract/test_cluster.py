"""``/``, ``_cluster/health``, ``_cluster/settings`` and the HTTP edge (routing, limits)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from modelnode.api import build_app
from modelnode.config import Settings
from tests.support import assert_error

ML = "plugins.ml_commons."


def test_root_and_health(client: TestClient) -> None:
    info = client.get("/").json()
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"].startswith("2.")
    assert client.head("/").status_code == 200
    health = client.get("/_cluster/health").json()
    assert health["status"] == "green" and health["number_of_nodes"] == 1


def test_settings_flat_and_nested_keys(client: TestClient) -> None:
    r = client.put(
        "/_cluster/settings",
        json={
            "persistent": {
                "plugins.ml_commons.only_run_on_ml_node": "false",
                "plugins": {"ml_commons": {"native_memory_threshold": 99}},
            }
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["acknowledged"] is True
    assert body["persistent"]["plugins"]["ml_commons"] == {
        "only_run_on_ml_node": "false",
        "native_memory_threshold": "99",
    }
    assert body["transient"] == {}
    flat = client.get("/_cluster/settings?flat_settings=true").json()
    assert flat["persistent"] == {ML + "native_memory_threshold": "99", ML + "only_run_on_ml_node": "false"}
    nested = client.get("/_cluster/settings").json()
    assert nested["persistent"]["plugins"]["ml_commons"]["native_memory_threshold"] == "99"


def test_settings_transient_wins_and_null_resets(client: TestClient) -> None:
    client.put("/_cluster/settings", json={"persistent": {ML + "max_model_on_node": 5}})
    client.put("/_cluster/settings", json={"transient": {ML + "max_model_on_node": 7}})
    svc = client.app.state.services  # type: ignore[attr-defined]
    assert svc.cluster.ml("max_model_on_node") == 7
    client.put("/_cluster/settings", json={"transient": {ML + "max_model_on_node": None}})
    assert svc.cluster.ml("max_model_on_node") == 5
    client.put("/_cluster/settings", json={"persistent": {ML + "*": None}})
    assert svc.cluster.ml("max_model_on_node") == 10
    defaults = client.get("/_cluster/settings?include_defaults=true&flat_settings=true").json()["defaults"]
    assert defaults[ML + "allow_registering_model_via_url"] == "false"


def test_settings_validation_changes_nothing(client: TestClient) -> None:
    client.put("/_cluster/settings", json={"persistent": {ML + "max_model_on_node": 3}})
    bad = [
        ({ML + "only_run_on_ml_node": "yes"}, "only [true] or [false]"),
        ({ML + "native_memory_threshold": 101}, "must be <= 100"),
        ({ML + "native_memory_threshold": "abc"}, "Failed to parse value [abc]"),
        ({ML + "no_such_setting": 1}, "not recognized"),
        ({"cluster.some.unknown": 1}, "persistent setting [cluster.some.unknown], not recognized"),
        ({ML + "trusted_url_regex": "("}, "invalid regex"),
    ]
    for settings, reason in bad:
        r = client.put("/_cluster/settings", json={"persistent": {ML + "max_model_on_node": 9, **settings}})
        assert_error(r, 400, "illegal_argument_exception", reason)
    flat = client.get("/_cluster/settings?flat_settings=true").json()
    assert flat["persistent"] == {ML + "max_model_on_node": "3"}


def test_malformed_and_missing_bodies(client: TestClient) -> None:
    assert_error(client.put("/_cluster/settings", content=b"{not json"), 400, "parse_exception")
    assert_error(client.put("/_cluster/settings"), 400, "parse_exception", "request body is required")
    assert_error(client.put("/_cluster/settings", content=b"[1,2]"), 400, "parse_exception")
    assert_error(
        client.put("/_cluster/settings", json={"persistent": {ML + "x": 1}, "other": {}}),
        400,
        "illegal_argument_exception",
    )


def test_unknown_route_and_wrong_method(client: TestClient) -> None:
    assert_error(
        client.get("/_plugins/_ml/nothing/here"),
        400,
        "illegal_argument_exception",
        "no handler found for uri [/_plugins/_ml/nothing/here] and method [GET]",
    )
    assert_error(client.delete("/_cluster/settings"), 405, "method_not_allowed_exception")


def test_body_size_limit(tmp_path, fake_repo) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(
        data_dir=tmp_path / "d", model_repository=str(fake_repo), inference_backend="fake", max_body_bytes=1000
    )
    with TestClient(build_app(settings)) as c:
        big = {"persistent": {ML + "trusted_url_regex": "a" * 2000}}
        assert_error(c.put("/_cluster/settings", json=big), 413, "content_too_long_exception")
        # Nothing was stored by the rejected request.
        assert c.get("/_cluster/settings").json()["persistent"] == {}


def test_catalog_route(client: TestClient) -> None:
    models = client.get("/_modelnode/catalog").json()["models"]
    assert len(models) == 24
    by_fn: dict[str, int] = {}
    for m in models:
        by_fn[m["function_name"]] = by_fn.get(m["function_name"], 0) + 1
    assert by_fn == {
        "TEXT_EMBEDDING": 11,
        "SPARSE_ENCODING": 8,
        "SPARSE_TOKENIZE": 2,
        "TEXT_SIMILARITY": 2,
        "QUESTION_ANSWERING": 1,
    }
    distiluse = next(m for m in models if m["name"].endswith("distiluse-base-multilingual-cased-v1"))
    assert distiluse["formats"] == ["TORCH_SCRIPT"]
