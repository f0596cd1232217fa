"""Train the Covertype classifier and write the model directory the API serves.

    python -m api.train --out model/                      # offline: deterministic generator
    python -m api.train --out model/ --csv covtype.data.gz # a Covertype copy (UCI file or CSV)
    python -m api.train --out model/ --uci [--data-home D] # sklearn's cached fetch_covtype copy
    python -m api.train --out model/ --register --tracking-uri http://127.0.0.1:5000
                                  # also log it to MLflow and register it as `covertype` (a new version)

Writes ``model.joblib`` (the scikit-learn forest), ``forest.npz`` (the same forest as flat
arrays, what the API loads) and ``metadata.json`` (version, data source, row counts, held-out
accuracy). Before writing, it checks that the compiled forest reproduces ``predict_proba``
bit for bit on held-out and random rows, and fails otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

from api import dataset
from api.model import ARRAYS_FILE, FORMAT, JOBLIB_FILE, METADATA_FILE, CompiledForest, flatten_forest

MODEL_NAME = "covertype-rf"
MODEL_RELEASE = "1.0.0"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="model directory to write")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--csv", default=os.environ.get("COVERTYPE_CSV") or None,
                        help="Covertype copy: UCI covtype.data[.gz] or a CSV with a header "
                             "(default: $COVERTYPE_CSV)")
    source.add_argument("--uci", action="store_true",
                        help="sklearn.datasets.fetch_covtype, cached copy only (no download)")
    parser.add_argument("--data-home", default=None, help="sklearn data home for --uci")
    parser.add_argument("--rows", type=int, default=120_000, help="generator rows (offline source)")
    parser.add_argument("--seed", type=int, default=20_240_531, help="generator and split seed")
    parser.add_argument("--trees", type=int, default=30)
    parser.add_argument("--max-depth", type=int, default=20)
    parser.add_argument("--min-samples-leaf", type=int, default=20)
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--register", action="store_true",
                        help="log the model to MLflow and register a new version of --registered-name "
                             "(needs the MLflow client: the controller's venv, not the API image)")
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI") or None,
                        help="MLflow tracking server for --register (default: $MLFLOW_TRACKING_URI)")
    parser.add_argument("--registered-name", default="covertype")
    parser.add_argument("--experiment", default="rightsize-models")
    parser.add_argument("--alias", default="", help="with --register: point this alias at the new version")
    args = parser.parse_args(argv)
    if args.register and not args.tracking_uri:
        parser.error("--register needs --tracking-uri or MLFLOW_TRACKING_URI")
    return args


def register(args, metadata: dict) -> dict:
    """Log the model folder to MLflow (params, accuracy, data source, rows) and register it as a new
    version of args.registered_name; returns {name, version, run_id}."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=args.tracking_uri, registry_uri=args.tracking_uri)
    exp = client.get_experiment_by_name(args.experiment)
    experiment_id = exp.experiment_id if exp else client.create_experiment(args.experiment)
    run = client.create_run(experiment_id, run_name=metadata["version"],
                            tags={"data_source": metadata["data_source"], "model_version": metadata["version"]})
    run_id = run.info.run_id
    params = dict(metadata["params"], data_source=metadata["data_source"], rows=metadata["training_rows"]
                  + metadata["test_rows"], training_rows=metadata["training_rows"], test_rows=metadata["test_rows"],
                  estimator=metadata["estimator"])
    client.log_batch(run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()],
                     metrics=[Metric("accuracy", metadata["holdout_accuracy"], 0, 0),
                              Metric("training_rows", metadata["training_rows"], 0, 0),
                              Metric("test_rows", metadata["test_rows"], 0, 0)],
                     tags=[RunTag("mlflow.runName", metadata["version"])])
    client.log_artifacts(run_id, str(args.out), artifact_path="model")
    client.set_terminated(run_id, "FINISHED")
    try:
        client.create_registered_model(args.registered_name, description="rightsize Covertype classifier")
    except Exception as exc:  # noqa: BLE001 - RESOURCE_ALREADY_EXISTS: a new version of it
        if "ALREADY_EXISTS" not in str(exc) and "already exists" not in str(exc):
            raise
    version = client.create_model_version(
        args.registered_name, source=f"{client.get_run(run_id).info.artifact_uri}/model", run_id=run_id,
        tags={"accuracy": str(metadata["holdout_accuracy"]), "data_source": metadata["data_source"],
              "rows": str(metadata["training_rows"] + metadata["test_rows"]), "model_version": metadata["version"]},
        description=f"{metadata['version']}: accuracy {metadata['holdout_accuracy']} on {metadata['test_rows']} "
                    f"held-out rows of {metadata['data_source']}")
    if args.alias:
        client.set_registered_model_alias(args.registered_name, args.alias, version.version)
    return {"name": args.registered_name, "version": str(version.version), "run_id": run_id,
            "uri": f"models:/{args.registered_name}/{version.version}"}


def load_data(args) -> tuple[np.ndarray, np.ndarray, str]:
    if args.csv:
        return dataset.load_csv(args.csv)
    if args.uci:
        return dataset.load_sklearn_covtype(args.data_home)
    return dataset.synthetic(args.rows, seed=args.seed)


def check_exact(forest: RandomForestClassifier, compiled: CompiledForest, X: np.ndarray) -> None:
    expected = forest.predict_proba(X)
    served = compiled.predict_proba(X)
    if not np.array_equal(expected, served):
        diff = float(np.abs(expected - served).max())
        raise SystemExit(f"compiled forest differs from scikit-learn (max |diff| {diff:g})")
    served_classes = np.array([compiled.predict_row(row).prediction for row in X[:2000]])
    if not np.array_equal(forest.predict(X[:2000]), served_classes):
        raise SystemExit("compiled forest predicts other classes than scikit-learn")


def train(args) -> dict:
    X, y, source = load_data(args)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=args.test_size, random_state=args.seed, stratify=y)
    forest = RandomForestClassifier(
        n_estimators=args.trees, max_depth=args.max_depth,
        min_samples_leaf=args.min_samples_leaf, random_state=args.seed, n_jobs=-1,
    ).fit(X_train, y_train)
    forest.n_jobs = 1  # summation order of predict_proba must not depend on threads
    accuracy = float((forest.predict(X_test) == y_test).mean())

    arrays = flatten_forest(forest)
    compiled = CompiledForest(arrays)
    check_exact(forest, compiled, X_test[:5000])
    check_exact(forest, compiled, dataset.random_rows(5000, seed=args.seed))

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    digest = hashlib.sha256()  # over the arrays, not the zip (which holds timestamps)
    for name in sorted(arrays):
        digest.update(name.encode() + np.ascontiguousarray(arrays[name]).tobytes())
    digest = digest.hexdigest()[:10]
    metadata = {
        "version": f"{MODEL_NAME}-{MODEL_RELEASE}+{digest}",
        "data_source": source,
        "training_rows": int(len(X_train)),
        "test_rows": int(len(X_test)),
        "holdout_accuracy": round(accuracy, 4),
        "format": f"{FORMAT} (flat numpy arrays compiled to Python at start-up); "
                  f"scikit-learn {sklearn.__version__} joblib beside it",
        "estimator": "RandomForestClassifier",
        "params": {"n_estimators": args.trees, "max_depth": args.max_depth,
                   "min_samples_leaf": args.min_samples_leaf, "random_state": args.seed,
                   "nodes": compiled.n_nodes},
        "features": list(dataset.FEATURES),
        "classes": compiled.classes,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / ARRAYS_FILE).write_bytes(buffer.getvalue())
    joblib.dump(forest, args.out / JOBLIB_FILE, compress=3)
    (args.out / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    return metadata


def main(argv=None) -> int:
    args = parse_args(argv)
    metadata = train(args)
    if args.register:
        import contextlib

        with contextlib.redirect_stdout(sys.stderr):  # the client's "View run ..." lines: stdout is JSON
            metadata = dict(metadata, registered=register(args, metadata))
    json.dump(metadata, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
