"""Every model kind over REST: register from the repository, deploy, predict in ML Commons' exact
response shapes, and the bad inputs of each (fake networks; the sparse tokenizer is fully real)."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.support import (
    CROSS_ENCODER,
    HIGHLIGHTER,
    SPARSE,
    SPARSE_TOKENIZER,
    assert_error,
    wait_model_state,
    wait_task,
)

ML = "/_plugins/_ml"


def deployed(client: TestClient, name: str, version: str, fmt: str = "TORCH_SCRIPT", **extra: object) -> str:
    r = client.post(
        f"{ML}/models/_register?deploy=true", json={"name": name, "version": version, "model_format": fmt, **extra}
    )
    assert r.status_code == 200, r.text
    task = wait_task(client, r.json()["task_id"])
    assert task["state"] == "COMPLETED", task
    model = wait_model_state(client, task["model_id"], ("DEPLOYED", "DEPLOY_FAILED"))
    assert model["model_state"] == "DEPLOYED", model
    return task["model_id"]


def test_sparse_tokenizer_matches_the_seed_page(client: TestClient) -> None:
    model_id = deployed(client, SPARSE_TOKENIZER, "1.0.1")
    model = client.get(f"{ML}/models/{model_id}").json()
    assert model["algorithm"] == "SPARSE_TOKENIZE" and "model_config" not in model
    r = client.post(
        f"{ML}/_predict/sparse_tokenize/{model_id}",
        json={"text_docs": ["hello world"], "parameters": {"sparse_embedding_format": "TOKEN_ID"}},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "inference_results": [{"output": [{"dataAsMap": {"response": [{"2088": 3.4208686, "7592": 6.9377565}]}}]}]
    }
    words = client.post(f"{ML}/_predict/sparse_tokenize/{model_id}", json={"text_docs": ["hello world", "hello"]})
    results = words.json()["inference_results"]
    assert results[0]["output"][0]["dataAsMap"]["response"] == [{"hello": 6.9377565, "world": 3.4208686}]
    assert results[1]["output"][0]["dataAsMap"]["response"] == [{"hello": 6.9377565}]
    lexical = client.post(
        f"{ML}/models/{model_id}/_predict",
        json={"text_docs": ["hello world"], "parameters": {"sparse_embedding_format": "lexical"}},
    ).json()
    assert lexical["inference_results"][0] == results[0]


def test_sparse_encoding_shape_and_formats(client: TestClient) -> None:
    model_id = deployed(client, SPARSE, "1.0.0")
    assert client.get(f"{ML}/models/{model_id}").json()["algorithm"] == "SPARSE_ENCODING"
    r = client.post(f"{ML}/_predict/sparse_encoding/{model_id}", json={"text_docs": ["today is sunny", "hello"]})
    assert r.status_code == 200, r.text
    results = r.json()["inference_results"]
    assert len(results) == 2
    (tensor,) = results[0]["output"]
    assert tensor["name"] == "output" and set(tensor) == {"name", "dataAsMap"}
    (weights,) = tensor["dataAsMap"]["response"]
    assert weights and all(isinstance(k, str) and v > 0 for k, v in weights.items())
    ids = client.post(
        f"{ML}/_predict/sparse_encoding/{model_id}",
        json={"text_docs": ["today is sunny"], "parameters": {"sparse_embedding_format": "token_id"}},
    ).json()
    (by_id,) = ids["inference_results"][0]["output"][0]["dataAsMap"]["response"]
    assert all(k.isdigit() for k in by_id) and sorted(by_id.values()) == sorted(weights.values())
    # The text_embedding route reads the same input (opensearch-py-ml's generate_embedding uses it).
    same = client.post(f"{ML}/_predict/text_embedding/{model_id}", json={"text_docs": ["today is sunny"]}).json()
    assert same["inference_results"][0] == results[0]


def test_sparse_bad_input(client: TestClient) -> None:
    model_id = deployed(client, SPARSE, "1.0.0")
    p = f"{ML}/_predict/sparse_encoding/{model_id}"
    assert_error(
        client.post(p, json={"text_docs": ["x"], "parameters": {"sparse_embedding_format": "bits"}}),
        400,
        "illegal_argument_exception",
        "sparse_embedding_format",
    )
    assert_error(client.post(p, json={"text_docs": []}), 400, reason_part="Empty text docs")
    assert_error(
        client.post(f"{ML}/_predict/text_similarity/{model_id}", json={"query_text": "q", "text_docs": ["x"]}),
        400,
        reason_part="SPARSE_ENCODING",
    )


@pytest.mark.parametrize("fmt", ["TORCH_SCRIPT", "ONNX"])
def test_cross_encoder_response_shape(client: TestClient, fmt: str) -> None:
    model_id = deployed(client, CROSS_ENCODER, "1.0.2", fmt)
    docs = ["how are you", "today is sunny", "today is july fifth", "it is winter"]
    r = client.post(
        f"{ML}/_predict/text_similarity/{model_id}", json={"query_text": "today is sunny", "text_docs": docs}
    )
    assert r.status_code == 200, r.text
    results = r.json()["inference_results"]
    assert len(results) == len(docs)
    for result in results:
        (tensor,) = result["output"]
        assert tensor["name"] == "similarity" and tensor["data_type"] == "FLOAT32" and tensor["shape"] == [1]
        assert len(tensor["data"]) == 1 and tensor["byte_buffer"]["order"] == "LITTLE_ENDIAN"
        raw = np.frombuffer(base64.b64decode(tensor["byte_buffer"]["array"]), dtype="<f4")
        assert np.allclose(raw, tensor["data"])
    # One doc alone scores as it does among others.
    alone = client.post(
        f"{ML}/models/{model_id}/_predict", json={"query_text": "today is sunny", "text_docs": ["it is winter"]}
    ).json()
    assert np.isclose(
        alone["inference_results"][0]["output"][0]["data"][0], results[3]["output"][0]["data"][0], atol=1e-5
    )


def test_cross_encoder_bad_input(client: TestClient) -> None:
    model_id = deployed(client, CROSS_ENCODER, "1.0.2", "ONNX")
    p = f"{ML}/_predict/text_similarity/{model_id}"
    assert_error(
        client.post(p, json={"text_docs": ["x"]}), 400, "illegal_argument_exception", "No query text was provided"
    )
    assert_error(client.post(p, json={"query_text": "q", "text_docs": []}), 400, reason_part="No text documents")
    assert_error(client.post(p, json={"query_text": "q"}), 400, reason_part="No text documents")
    assert_error(client.post(p, json={"query_text": 5, "text_docs": ["x"]}), 400)
    assert_error(
        client.post(f"{ML}/_predict/text_embedding/{model_id}", json={"text_docs": ["x"]}),
        400,
        reason_part="TEXT_SIMILARITY",
    )


def test_highlighter_response_shape(client: TestClient) -> None:
    model_id = deployed(client, HIGHLIGHTER, "1.0.0", function_name="QUESTION_ANSWERING")
    context = (
        "Alzheimer's disease is a progressive disorder. It affects memory. "
        "The weather today is sunny and warm. Treatments exist."
    )
    r = client.post(
        f"{ML}/_predict/question_answering/{model_id}",
        json={"question": "What is the weather like?", "context": context},
    )
    assert r.status_code == 200, r.text
    (result,) = r.json()["inference_results"]
    (tensor,) = result["output"]
    assert tensor["name"] == "highlights"
    highlights = tensor["dataAsMap"]["highlights"]
    positions = [h["position"] for h in highlights]
    assert positions == sorted(set(positions))
    for h in highlights:
        assert set(h) == {"text", "position", "start", "end"}
        assert context[h["start"] : h["end"]].strip() == h["text"]


def test_highlighter_bad_input(client: TestClient) -> None:
    model_id = deployed(client, HIGHLIGHTER, "1.0.0", function_name="QUESTION_ANSWERING")
    p = f"{ML}/models/{model_id}/_predict"
    assert_error(client.post(p, json={"context": "c"}), 400, "illegal_argument_exception", "Question is not provided")
    assert_error(client.post(p, json={"question": "q"}), 400, reason_part="Context is not provided")
    assert_error(client.post(p, json={"question": ["q"], "context": "c"}), 400)
    assert_error(
        client.post(f"{ML}/_predict/text_embedding/{model_id}", json={"text_docs": ["x"]}),
        400,
        reason_part="QUESTION_ANSWERING",
    )


def test_highlighter_refuses_a_question_that_leaves_no_room_for_context(client: TestClient) -> None:
    model_id = deployed(client, HIGHLIGHTER, "1.0.0", function_name="QUESTION_ANSWERING")
    r = client.post(f"{ML}/models/{model_id}/_predict", json={"question": "why " * 600, "context": "It is. So."})
    assert_error(r, 400, "illegal_argument_exception")
    # A long context is fine: it is split into overlapping windows.
    long_context = " ".join(f"Sentence number {i} is about the weather." for i in range(300))
    ok = client.post(f"{ML}/models/{model_id}/_predict", json={"question": "weather", "context": long_context})
    assert ok.status_code == 200, ok.text
    assert ok.json()["inference_results"][0]["output"][0]["dataAsMap"]["highlights"]
