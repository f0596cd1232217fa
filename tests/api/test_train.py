"""Training: the generator is deterministic; real Covertype copies are read and labelled."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from api import dataset, train
from api.model import METADATA_FILE


def test_generator_is_deterministic_and_covertype_shaped():
    X1, y1, source = dataset.synthetic(5_000, seed=3)
    X2, y2, _ = dataset.synthetic(5_000, seed=3)
    assert source == "synthetic"
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert X1.shape == (5_000, len(dataset.FEATURES))
    assert set(np.unique(y1)) == set(range(1, 8))
    assert set(np.unique(X1[:, 10])) <= set(range(4)) and set(np.unique(X1[:, 11])) <= set(range(40))
    assert (X1[:, 1] >= 0).all() and (X1[:, 1] <= 360).all()
    assert (X1[:, 6:9] >= 0).all() and (X1[:, 6:9] <= 255).all()
    assert not np.array_equal(X1, dataset.synthetic(5_000, seed=4)[0])


def uci_rows(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows in the UCI layout (54 columns, one-hot areas and soils) built from the generator."""
    X, y, _ = dataset.synthetic(n, seed=5)
    wilderness = np.eye(4)[X[:, 10].astype(int)]
    soil = np.eye(40)[X[:, 11].astype(int)]
    return np.column_stack([X[:, :10], wilderness, soil]), y


def test_uci_file_is_read_and_folded_to_12_fields(tmp_path):
    data, y = uci_rows(3_000)
    path = tmp_path / "covtype.data.gz"
    with gzip.open(path, "wt") as handle:
        np.savetxt(handle, np.column_stack([data, y]), fmt="%d", delimiter=",")
    X, labels, source = dataset.load_csv(path)
    assert source == "covertype-csv:covtype.data.gz"
    assert np.array_equal(X, dataset.synthetic(3_000, seed=5)[0]) and np.array_equal(labels, y)


def test_csv_with_api_field_names_trains_and_is_recorded(tmp_path):
    X, y, _ = dataset.synthetic(4_000, seed=6)
    path = tmp_path / "cover.csv"
    header = ",".join((*dataset.FEATURES, "cover_type"))
    np.savetxt(path, np.column_stack([X, y]), fmt="%d", delimiter=",", header=header, comments="")
    out = tmp_path / "model"
    train.main(["--out", str(out), "--csv", str(path), "--trees", "3", "--max-depth", "6"])
    metadata = json.loads((out / METADATA_FILE).read_text())
    assert metadata["data_source"] == "covertype-csv:cover.csv"
    assert metadata["training_rows"] == 3_200 and metadata["test_rows"] == 800
    assert 0 < metadata["holdout_accuracy"] <= 1


def test_same_inputs_give_the_same_model_version(tmp_path):
    args = ["--rows", "3000", "--trees", "2", "--max-depth", "4"]
    train.main(["--out", str(tmp_path / "a"), *args])
    train.main(["--out", str(tmp_path / "b"), *args])
    version = [json.loads((tmp_path / d / METADATA_FILE).read_text())["version"] for d in "ab"]
    assert version[0] == version[1]


def test_register_needs_a_tracking_uri(monkeypatch, capsys):
    from api import train

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(SystemExit):
        train.parse_args(["--out", "model", "--register"])
    assert "--register needs --tracking-uri" in capsys.readouterr().err
    assert train.parse_args(["--out", "m", "--register", "--tracking-uri", "http://127.0.0.1:5000"]).register
