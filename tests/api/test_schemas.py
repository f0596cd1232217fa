"""Validation rules of the request body (pydantic model = validation = /docs schema)."""

from __future__ import annotations

import math

import orjson
import pytest
from pydantic import ValidationError

from api.schemas import FIELD_BOUNDS, BatchRequest, CoverRow


def error_types(body) -> set[str]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    with pytest.raises(ValidationError) as caught:
        CoverRow.model_validate_json(raw)
    return {error["type"] for error in caught.value.errors()}


def test_seed_example_is_accepted(row):
    parsed = CoverRow.model_validate_json(orjson.dumps(row))
    assert parsed.elevation == 2500.0 and parsed.soil_type == 10


def test_measurements_accept_fractions(row):
    row.update(elevation=2500.5, slope=12.25)
    assert CoverRow.model_validate_json(orjson.dumps(row)).elevation == 2500.5


@pytest.mark.parametrize("field", sorted(FIELD_BOUNDS))
def test_every_field_is_bounded_on_both_sides(row, field):
    low, high, integer = FIELD_BOUNDS[field]
    step = 1 if integer else 0.5
    for value in (low, high):
        CoverRow.model_validate_json(orjson.dumps({**row, field: value}))
    assert error_types({**row, field: low - step}) == {"greater_than_equal"}
    assert error_types({**row, field: high + step}) == {"less_than_equal"}


@pytest.mark.parametrize("field, low, high", [
    ("aspect", 0, 360), ("hillshade_9am", 0, 255), ("hillshade_noon", 0, 255),
    ("hillshade_3pm", 0, 255), ("wilderness_area", 0, 3), ("soil_type", 0, 39), ("slope", 0, 90),
])
def test_physical_bounds(field, low, high):
    assert FIELD_BOUNDS[field][:2] == (low, high)


def test_only_the_vertical_distance_may_be_negative():
    negative = {name for name, (low, _, _) in FIELD_BOUNDS.items() if low < 0}
    assert negative == {"vertical_distance_to_hydrology", "elevation"}
    distances = {name for name in FIELD_BOUNDS if "distance" in name}
    assert {name for name in distances if FIELD_BOUNDS[name][0] < 0} == {"vertical_distance_to_hydrology"}


@pytest.mark.parametrize("value, expected", [
    ("2500", "float_type"), (True, "float_type"), (None, "float_type"), ([1], "float_type"),
    ({"v": 1}, "float_type"),
])
def test_wrong_types_for_measurements(row, value, expected):
    assert error_types({**row, "elevation": value}) == {expected}


@pytest.mark.parametrize("value", ["1", 1.0, 1.5, True])
def test_codes_must_be_integers(row, value):
    assert error_types({**row, "wilderness_area": value}) == {"int_type"}


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_numbers_are_rejected(row, literal):
    raw = orjson.dumps(row).replace(b'"aspect":180', b'"aspect":' + literal)
    assert error_types(raw) == {"finite_number"}


def test_unknown_and_missing_fields(row):
    assert error_types({**row, "Elevation": 1}) == {"extra_forbidden"}
    del row["soil_type"]
    assert error_types(row) == {"missing"}


def test_array_instead_of_object(row):
    assert error_types([row]) == {"model_type"}


def test_batch_needs_rows(row):
    with pytest.raises(ValidationError):
        BatchRequest.model_validate_json(b'{"rows": []}')
    with pytest.raises(ValidationError):
        BatchRequest.model_validate_json(orjson.dumps([row]))
    assert len(BatchRequest.model_validate_json(orjson.dumps({"rows": [row] * 3})).rows) == 3


def test_bounds_table_is_finite():
    assert all(math.isfinite(low) and math.isfinite(high) for low, high, _ in FIELD_BOUNDS.values())
