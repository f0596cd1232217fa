"""Training data: the real Covertype table when a copy is at hand, else a deterministic stand-in.

Every loader returns ``(X, y, source)``: ``X`` a float64 array with the 12 columns of
``FEATURES`` (wilderness_area and soil_type as integer codes, as the API receives them),
``y`` the cover type 1-7, ``source`` a short label that ends up in the model metadata.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np

# Column order of the model input; the API builds its rows in this order.
FEATURES = (
    "elevation",
    "aspect",
    "slope",
    "horizontal_distance_to_hydrology",
    "vertical_distance_to_hydrology",
    "horizontal_distance_to_roadways",
    "hillshade_9am",
    "hillshade_noon",
    "hillshade_3pm",
    "horizontal_distance_to_fire_points",
    "wilderness_area",
    "soil_type",
)
CLASSES = (1, 2, 3, 4, 5, 6, 7)
_N_WILDERNESS, _N_SOIL = 4, 40
_LABEL_COLUMNS = ("cover_type", "Cover_Type", "class", "target")


# --- the real data ---------------------------------------------------------------------------

def from_uci_matrix(data: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fold the UCI layout (10 numeric, 4 wilderness + 40 soil one-hot columns) into 12 features."""
    data = np.asarray(data, dtype=np.float64)
    if data.shape[1] != 10 + _N_WILDERNESS + _N_SOIL:
        raise ValueError(f"expected 54 UCI feature columns, got {data.shape[1]}")
    wilderness = data[:, 10:14].argmax(axis=1)
    soil = data[:, 14:54].argmax(axis=1)
    X = np.column_stack([data[:, :10], wilderness, soil]).astype(np.float64)
    return X, np.asarray(target, dtype=np.int64)


def load_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray, str]:
    """Read a Covertype copy: UCI ``covtype.data[.gz]`` (55 columns, no header) or a CSV with a header.

    A headed CSV either has the 12 API field names plus a label column (``cover_type``), or the
    UCI names (``Elevation``, ..., ``Wilderness_Area1..4``, ``Soil_Type1..40``, ``Cover_Type``).
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        first = handle.readline()
    has_header = any(ch.isalpha() for ch in first)
    if not has_header:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)
        X, y = from_uci_matrix(table[:, :-1], table[:, -1])
        return X, y, f"covertype-csv:{path.name}"

    with opener(path, "rt", newline="") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader)]
        table = np.array([[float(v) for v in row] for row in reader if row], dtype=np.float64)
    lower = [name.lower() for name in header]
    label = next((lower.index(c.lower()) for c in _LABEL_COLUMNS if c.lower() in lower), None)
    if label is None:
        raise ValueError(f"{path}: no label column (one of {_LABEL_COLUMNS})")
    y = table[:, label]
    if all(name in lower for name in FEATURES):
        X = table[:, [lower.index(name) for name in FEATURES]]
    else:  # UCI names: everything but the label, in file order
        X, y = from_uci_matrix(np.delete(table, label, axis=1), y)
    return X, y.astype(np.int64), f"covertype-csv:{path.name}"


def load_sklearn_covtype(data_home: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """sklearn's copy of UCI Covertype; only a cached copy is used (nothing is downloaded)."""
    from sklearn.datasets import fetch_covtype

    bunch = fetch_covtype(data_home=data_home, download_if_missing=False)
    X, y = from_uci_matrix(bunch.data, bunch.target)
    return X, y, "covertype-uci (sklearn fetch_covtype)"


# --- the stand-in ----------------------------------------------------------------------------

# Class priors and per-class elevation (mean, sd) of the real table, so the stand-in has the
# same imbalance and the same dominant feature.
_PRIORS = np.array([0.3646, 0.4876, 0.0615, 0.0047, 0.0163, 0.0299, 0.0353])
_ELEVATION = np.array([(3129, 155), (2920, 190), (2394, 197), (2223, 102), (2787, 96),
                       (2419, 188), (3362, 110)], dtype=np.float64)
# P(wilderness area | class), shaped after the real table (Cottonwood only in area 3, ...).
_WILDERNESS = np.array([
    [0.48, 0.06, 0.46, 0.00],
    [0.56, 0.03, 0.37, 0.04],
    [0.00, 0.00, 0.40, 0.60],
    [0.00, 0.00, 0.00, 1.00],
    [0.62, 0.00, 0.38, 0.00],
    [0.00, 0.00, 0.45, 0.55],
    [0.42, 0.12, 0.46, 0.00],
])
_SLOPE_MEAN = np.array([13.0, 13.5, 20.8, 18.5, 16.6, 19.0, 14.3])
_ROADWAYS_MEAN = np.array([2614, 2429, 943, 914, 1349, 1037, 2738], dtype=np.float64)
_FIRE_MEAN = np.array([2009, 2168, 910, 859, 1577, 1055, 2071], dtype=np.float64)
_HYDRO_MEAN = np.array([270, 279, 210, 106, 212, 160, 356], dtype=np.float64)


def _hillshade(aspect: np.ndarray, slope: np.ndarray, azimuth: float, altitude: float) -> np.ndarray:
    zenith = np.radians(90.0 - altitude)
    slope_r, aspect_r = np.radians(slope), np.radians(aspect)
    shade = np.cos(zenith) * np.cos(slope_r) + np.sin(zenith) * np.sin(slope_r) * np.cos(
        np.radians(azimuth) - aspect_r)
    return 255.0 * np.clip(shade, 0.0, 1.0)


def synthetic(n_rows: int = 100_000, seed: int = 20_240_531) -> tuple[np.ndarray, np.ndarray, str]:
    """A covertype-shaped table: same 12 fields and ranges, 7 classes with the real priors.

    Deterministic for a given (n_rows, seed). Classes overlap (elevation bands, shared soils
    and areas), so no model reaches 100 %: the held-out accuracy is a real measurement.
    """
    rng = np.random.default_rng(seed)
    y_idx = rng.choice(len(CLASSES), size=n_rows, p=_PRIORS / _PRIORS.sum())

    mean, sd = _ELEVATION[y_idx, 0], _ELEVATION[y_idx, 1]
    elevation = np.clip(rng.normal(mean, sd), 1859, 3858)
    aspect = np.mod(rng.normal(np.where(y_idx == 4, 140, 160), 110), 360)
    slope = np.clip(rng.gamma(4.0, _SLOPE_MEAN[y_idx] / 4.0), 0, 66)
    hydro_h = np.clip(rng.exponential(_HYDRO_MEAN[y_idx]), 0, 1397)
    hydro_v = np.clip(hydro_h * rng.normal(0.17, 0.2, n_rows), -173, 601)
    roadways = np.clip(rng.gamma(2.2, _ROADWAYS_MEAN[y_idx] / 2.2), 0, 7117)
    fire = np.clip(rng.gamma(2.0, _FIRE_MEAN[y_idx] / 2.0), 0, 7173)
    shade_9 = _hillshade(aspect, slope, 120, 45) + rng.normal(0, 6, n_rows)
    shade_noon = _hillshade(aspect, slope, 180, 60) + rng.normal(0, 6, n_rows)
    shade_3 = _hillshade(aspect, slope, 240, 35) + rng.normal(0, 6, n_rows)

    cumulative = _WILDERNESS.cumsum(axis=1)[y_idx]
    wilderness = (rng.random(n_rows)[:, None] > cumulative).sum(axis=1).clip(0, 3)
    # Each class favours a few soil types (fixed by the seed); neighbours share some of them.
    soil_weights = rng.gamma(0.3, 1.0, size=(len(CLASSES), _N_SOIL))
    soil_weights /= soil_weights.sum(axis=1, keepdims=True)
    soil_cum = soil_weights.cumsum(axis=1)[y_idx]
    soil = (rng.random(n_rows)[:, None] > soil_cum).sum(axis=1).clip(0, _N_SOIL - 1)

    X = np.column_stack([
        elevation, aspect, slope, hydro_h, hydro_v, roadways,
        np.clip(shade_9, 0, 255), np.clip(shade_noon, 0, 255), np.clip(shade_3, 0, 255),
        fire, wilderness, soil,
    ])
    X = np.rint(X)  # the real table holds integers only
    y = np.asarray(CLASSES)[y_idx]
    return X, y, "synthetic"


def random_rows(n_rows: int, seed: int = 7) -> np.ndarray:
    """Rows for equality tests: half near the training distribution with fractional jitter
    (so every split is exercised, including values a hair off a threshold), half uniform over
    the API's accepted bounds (far outside what the trees saw)."""
    from api.schemas import FIELD_BOUNDS

    rng = np.random.default_rng(seed)
    near, _, _ = synthetic(n_rows - n_rows // 2, seed=seed)
    near = near + rng.normal(0.0, 0.75, near.shape)
    uniform = np.empty((n_rows // 2, len(FEATURES)))
    for column, name in enumerate(FEATURES):
        low, high, integer = FIELD_BOUNDS[name]
        if integer:
            near[:, column] = np.rint(near[:, column])
            uniform[:, column] = rng.integers(low, high + 1, len(uniform))
        else:
            uniform[:, column] = rng.uniform(low, high, len(uniform))
        near[:, column] = near[:, column].clip(low, high)
    return np.vstack([near, uniform])
