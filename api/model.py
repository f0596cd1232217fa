"""The served model: a scikit-learn RandomForestClassifier, flattened to numpy arrays at training
time and compiled to plain Python comparisons at start-up.

Why: scikit-learn's ``predict_proba`` costs milliseconds per one-row call (input validation, thread
pool, per-tree Cython calls); walking the trees as nested ``if x <= t`` in Python costs a few
microseconds and gives bit-identical answers, because it repeats scikit-learn's arithmetic:

* features are rounded to float32 before the comparisons (sklearn's tree input dtype), and
  compared with the float64 thresholds with ``<=``;
* a leaf's probabilities are its stored class fractions (``DecisionTreeClassifier.predict_proba``);
* the forest sums the trees' vectors in estimator order starting from zero, divides by the tree
  count, and takes the first maximum (``RandomForestClassifier.predict_proba``/``predict``).

Serving needs numpy only: scikit-learn stays in the training stage of the image.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import NamedTuple

import numpy as np

FORMAT = "rightsize-forest/1"
ARRAYS_FILE = "forest.npz"
METADATA_FILE = "metadata.json"
JOBLIB_FILE = "model.joblib"


# --- training side: sklearn forest -> arrays ---------------------------------------------------

def flatten_forest(forest) -> dict[str, np.ndarray]:
    """Flatten a fitted RandomForestClassifier into arrays (needs scikit-learn only here)."""
    features, thresholds, lefts, rights, leaf_ids, probas, offsets = [], [], [], [], [], [], []
    n_nodes = n_leaves = 0
    for estimator in forest.estimators_:
        tree = estimator.tree_
        is_leaf = tree.children_left == -1
        # DecisionTreeClassifier.predict_proba returns the leaf's value row as is (the class
        # fractions, scikit-learn >= 1.4); train.py checks the equality before saving.
        proba = tree.value[:, 0, : estimator.n_classes_]
        leaf_id = np.full(tree.node_count, -1, dtype=np.int32)
        leaf_id[is_leaf] = np.arange(n_leaves, n_leaves + is_leaf.sum(), dtype=np.int32)
        offsets.append(n_nodes)
        features.append(tree.feature.astype(np.int32))
        thresholds.append(tree.threshold.astype(np.float64))
        lefts.append(tree.children_left.astype(np.int32))
        rights.append(tree.children_right.astype(np.int32))
        leaf_ids.append(leaf_id)
        probas.append(proba[is_leaf])
        n_nodes += tree.node_count
        n_leaves += int(is_leaf.sum())
    return {
        "classes": np.asarray(forest.classes_, dtype=np.int64),
        "n_features": np.int64(forest.n_features_in_),
        "tree_offsets": np.asarray(offsets, dtype=np.int64),
        "feature": np.concatenate(features),
        "threshold": np.concatenate(thresholds),
        "left": np.concatenate(lefts),
        "right": np.concatenate(rights),
        "leaf_id": np.concatenate(leaf_ids),
        "leaf_proba": np.concatenate(probas),
    }


# --- serving side: arrays -> compiled Python -------------------------------------------------

def _tree_source(name: str, arrays: dict, offset: int, n_features: int) -> str:
    """``def name(x0, ..., xN): <nested ifs> return leaf_id`` for the tree starting at offset."""
    feature, threshold = arrays["feature"], arrays["threshold"]
    left, right, leaf_id = arrays["left"], arrays["right"], arrays["leaf_id"]
    args = ", ".join(f"x{i}" for i in range(n_features))
    lines = [f"def {name}({args}):"]
    stack = [(0, 1)]  # (local node, indent); iterative so deep trees cannot hit recursion limits
    while stack:
        node, depth = stack.pop()
        pad = "    " * depth
        if isinstance(node, str):  # an "else:" marker
            lines.append(pad + node)
            continue
        g = offset + node
        if left[g] == -1:
            lines.append(f"{pad}return {int(leaf_id[g])}")
            continue
        lines.append(f"{pad}if x{int(feature[g])} <= {float(threshold[g])!r}:")
        # pushed in reverse: left subtree, then "else:", then right subtree
        stack.append((int(right[g]), depth + 1))
        stack.append(("else:", depth))
        stack.append((int(left[g]), depth + 1))
    return "\n".join(lines)


class Answer(NamedTuple):
    prediction: int
    confidence: float


class CompiledForest:
    """Exact, fast, numpy-only re-implementation of the trained forest's predict/predict_proba."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.classes = [int(c) for c in arrays["classes"]]
        self.n_features = int(arrays["n_features"])
        self.n_trees = len(arrays["tree_offsets"])
        self.n_nodes = len(arrays["feature"])
        self._leaf_proba = np.ascontiguousarray(arrays["leaf_proba"], dtype=np.float64)
        self._float32 = struct.Struct(f"{self.n_features}f")
        self._trees = self._compile(arrays)

    def _compile(self, arrays):
        trees = []
        for t, offset in enumerate(arrays["tree_offsets"]):
            source = _tree_source(f"tree_{t}", arrays, int(offset), self.n_features)
            namespace: dict = {}
            # Each tree compiled on its own keeps the transient AST small (start-up memory).
            exec(compile(source, f"<tree {t}>", "exec"), namespace)  # noqa: S102 - our own arrays
            trees.append(namespace[f"tree_{t}"])
        return tuple(trees)

    @classmethod
    def load(cls, directory: str | Path) -> "CompiledForest":
        with np.load(Path(directory) / ARRAYS_FILE) as npz:
            return cls({name: npz[name] for name in npz.files})

    def leaves(self, row) -> list[int]:
        x = self._float32.unpack(self._float32.pack(*row))  # sklearn compares float32 features
        return [tree(*x) for tree in self._trees]

    def predict_proba_row(self, row) -> np.ndarray:
        # Summing rows in tree order (axis 0 of a C array) is sequential, as sklearn's loop is.
        total = self._leaf_proba[self.leaves(row)].sum(axis=0)
        total /= self.n_trees
        return total

    def predict_row(self, row) -> Answer:
        proba = self.predict_proba_row(row)
        best = int(proba.argmax())
        return Answer(self.classes[best], float(proba[best]))

    def predict_proba(self, rows) -> np.ndarray:
        return np.array([self.predict_proba_row(row) for row in rows])


def load_metadata(directory: str | Path) -> dict:
    return json.loads((Path(directory) / METADATA_FILE).read_text())
