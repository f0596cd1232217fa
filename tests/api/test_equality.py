"""Served predictions are exactly the scikit-learn model's: same class, same probability."""

from __future__ import annotations

import joblib
import numpy as np
import orjson
import pytest

from api.dataset import FEATURES, random_rows
from api.model import JOBLIB_FILE, CompiledForest

N_ROWS = 12_000


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    return random_rows(N_ROWS, seed=11)


@pytest.fixture(scope="module")
def sklearn_model(model_dir):
    return joblib.load(model_dir / JOBLIB_FILE)


def test_rows_cover_fractions_and_out_of_range_values(rows):
    assert len(rows) >= 10_000
    assert (rows[:, 0] % 1 != 0).mean() > 0.4  # fractional elevations: float32 rounding matters
    assert rows[:, 0].max() > 3858 and rows[:, 0].min() < 1859  # beyond the training range


def test_compiled_forest_is_bit_identical(model_dir, sklearn_model, rows):
    compiled = CompiledForest.load(model_dir)
    assert np.array_equal(compiled.predict_proba(rows), sklearn_model.predict_proba(rows))


def test_http_answers_match_sklearn_on_every_row(client, sklearn_model, rows):
    expected_class = sklearn_model.predict(rows)
    expected_conf = sklearn_model.predict_proba(rows).max(axis=1)
    served_class, served_conf = [], []
    for start in range(0, len(rows), 100):
        chunk = [dict(zip(FEATURES, values)) for values in rows[start:start + 100].tolist()]
        for row in chunk:  # integer codes as JSON integers, like a client sends them
            row["wilderness_area"] = int(row["wilderness_area"])
            row["soil_type"] = int(row["soil_type"])
        response = client.post("/predict/batch", content=orjson.dumps({"rows": chunk}),
                               headers={"content-type": "application/json"})
        assert response.status_code == 200
        answers = response.json()["predictions"]
        served_class += [answer["prediction"] for answer in answers]
        served_conf += [answer["confidence"] for answer in answers]
    assert len(served_class) == len(rows)
    assert np.array_equal(np.array(served_class), expected_class)
    np.testing.assert_allclose(served_conf, expected_conf, rtol=0, atol=1e-6)


def test_single_row_endpoint_matches_sklearn(client, sklearn_model, rows):
    sample = rows[::60]
    expected = sklearn_model.predict(sample)
    for values, cover in zip(sample.tolist(), expected):
        row = dict(zip(FEATURES, values))
        row["wilderness_area"], row["soil_type"] = int(row["wilderness_area"]), int(row["soil_type"])
        assert client.post("/predict", json=row).json()["prediction"] == cover
