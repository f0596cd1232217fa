"""HTTP behaviour of the app through TestClient: answers, every bad input, /health, /docs."""

from __future__ import annotations

import orjson
import pytest

JSON = {"content-type": "application/json"}


def test_predict_answers_the_seed_example(client, row):
    response = client.post("/predict", json=row)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"prediction", "confidence", "model_version"}
    assert body["prediction"] in range(1, 8)
    assert 0 < body["confidence"] <= 1
    assert body["model_version"] == client.get("/health").json()["model"]["version"]


def test_health_reports_the_model(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    model = body["model"]
    assert model["data_source"] == "synthetic"
    assert model["training_rows"] == 24_000 and model["test_rows"] == 6_000
    assert 0.5 < model["holdout_accuracy"] < 1
    assert model["format"].startswith("rightsize-forest/1")
    assert model["version"].startswith("covertype-rf-")


def test_batch_answers_each_row_in_order(client, row):
    rows = [row, {**row, "elevation": 3400, "soil_type": 30}, {**row, "elevation": 2000, "wilderness_area": 3}]
    response = client.post("/predict/batch", json={"rows": rows})
    assert response.status_code == 200
    answers = response.json()["predictions"]
    assert answers == [client.post("/predict", json=one).json() for one in rows]


def test_batch_row_count_is_bounded(make_client, row):
    client = make_client(max_batch_rows=5)
    assert client.post("/predict/batch", json={"rows": [row] * 5}).status_code == 200
    response = client.post("/predict/batch", json={"rows": [row] * 6})
    assert response.status_code == 422
    assert "at most 5 rows" in response.text
    assert client.post("/predict/batch", json={"rows": []}).status_code == 422


def test_a_bad_row_in_a_batch_is_located(client, row):
    response = client.post("/predict/batch", json={"rows": [row, {**row, "aspect": 400}]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "rows", 1, "aspect"]


BAD_INPUTS = {
    "invalid json": (b'{"elevation": 2500,', JSON, 400),
    "empty body": (b"", JSON, 400),
    "not utf-8": (b'{"elevation": "\xff"}', JSON, 400),
    "nan literal": (b'{"elevation": NaN}', JSON, 422),
    "infinity literal": (b'{"elevation": Infinity}', JSON, 422),
    "json array": (orjson.dumps([{"elevation": 1}]), JSON, 422),
    "json scalar": (b"42", JSON, 422),
    "json null": (b"null", JSON, 422),
    "empty object": (b"{}", JSON, 422),
    "text/plain": (b"{}", {"content-type": "text/plain"}, 415),
    "form": (b"a=1", {"content-type": "application/x-www-form-urlencoded"}, 415),
    "no content type": (b"{}", {}, 415),
}


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gets_a_readable_4xx(client, path, name):
    body, headers, status = BAD_INPUTS[name]
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"]


@pytest.mark.parametrize("change, message", [
    ({"elevation": "2500"}, "valid number"),
    ({"soil_type": 40}, "less than or equal to 39"),
    ({"aspect": -1}, "greater than or equal to 0"),
    ({"unknown": 1}, "Extra inputs are not permitted"),
])
def test_schema_errors_name_the_field(client, row, change, message):
    response = client.post("/predict", json={**row, **change})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", next(iter(change))]
    assert message in detail["msg"]


def test_json_content_type_with_charset_is_accepted(client, row):
    headers = {"content-type": "application/json; charset=utf-8"}
    assert client.post("/predict", content=orjson.dumps(row), headers=headers).status_code == 200


def test_body_over_64_kib_is_413(client, row):
    big = orjson.dumps({**row, "padding": "x" * (64 * 1024)})
    response = client.post("/predict", content=big, headers=JSON)
    assert response.status_code == 413
    assert "65536" in response.json()["detail"]


def test_chunked_body_over_the_limit_is_413(client):
    def chunks():
        for _ in range(20):
            yield b" " * 4096

    response = client.post("/predict", content=chunks(), headers=JSON)
    assert response.status_code == 413


def test_body_at_the_limit_is_read(make_client, row):
    client = make_client(max_body_bytes=1024)
    body = orjson.dumps(row)
    padded = body + b" " * (1024 - len(body))
    assert client.post("/predict", content=padded, headers=JSON).status_code == 200
    assert client.post("/predict", content=padded + b" ", headers=JSON).status_code == 413


def test_service_stays_healthy_after_bad_inputs(client, row):
    for body, headers, _ in BAD_INPUTS.values():
        assert client.post("/predict", content=body, headers=headers).status_code < 500
    assert client.post("/predict", content=b"x" * 70_000, headers=JSON).status_code == 413
    assert client.get("/health").status_code == 200
    assert client.post("/predict", json=row).status_code == 200


def test_wrong_method_and_path_are_4xx(client):
    assert client.get("/predict").status_code == 405
    assert client.post("/nowhere", json={}).status_code == 404


def test_docs_show_the_request_schema(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CoverRow"}
    row_schema = spec["components"]["schemas"]["CoverRow"]
    assert row_schema["additionalProperties"] is False
    assert row_schema["properties"]["aspect"]["maximum"] == 360
    assert "rows" in spec["components"]["schemas"]["BatchRequest"]["properties"]
    batch_ref = spec["components"]["schemas"]["BatchRequest"]["properties"]["rows"]["items"]["$ref"]
    assert batch_ref == "#/components/schemas/CoverRow"


def test_model_is_loaded_in_lifespan_not_at_import(tmp_path):
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings

    app = create_app(Settings(model_dir=tmp_path))  # empty directory: no failure yet
    with pytest.raises(FileNotFoundError):
        with TestClient(app):
            pass


def test_fastapi_routes_answer_like_the_hot_path(client, model_dir, row):
    """HotPath only skips FastAPI's stack: through the router, the same endpoints answer alike."""
    from fastapi.testclient import TestClient

    from api.main import create_fastapi
    from api.settings import Settings

    requests = [("/predict", orjson.dumps(row), JSON), ("/predict", b"[1]", JSON),
                ("/predict", b"{", JSON), ("/predict", b"{}", {"content-type": "text/plain"}),
                ("/predict/batch", orjson.dumps({"rows": [row, row]}), JSON)]
    with TestClient(create_fastapi(Settings(model_dir=model_dir))) as plain:
        for path, body, headers in requests:
            hot, routed = (c.post(path, content=body, headers=headers) for c in (client, plain))
            assert (hot.status_code, hot.json()) == (routed.status_code, routed.json())


def test_health_names_a_registered_mlflow_model_version(model_dir, tmp_path):
    """A model folder fetched by api_model_uri (rightsize/mlflowlog.py fetch) carries the registered
    name and version in its metadata.json; /health shows them beside the model's own version."""
    import json
    import shutil

    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings

    fetched = tmp_path / "covertype" / "3"
    shutil.copytree(model_dir, fetched)
    metadata = json.loads((fetched / "metadata.json").read_text())
    metadata.update(registered_name="covertype", registered_version="3", registered_uri="models:/covertype@champion")
    (fetched / "metadata.json").write_text(json.dumps(metadata))
    with TestClient(create_app(Settings(model_dir=fetched))) as client:
        model = client.get("/health").json()["model"]
    assert (model["registered_name"], model["registered_version"]) == ("covertype", "3")
    assert model["registered_uri"] == "models:/covertype@champion" and model["version"] == metadata["version"]


def test_health_of_the_baked_model_names_no_registered_version(client):
    model = client.get("/health").json()["model"]
    assert model["registered_name"] is None and model["registered_version"] is None
