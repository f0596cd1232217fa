"""Request and response bodies. The pydantic models are the validation and the /docs schema."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# strict: no "2500" -> 2500, no true -> 1, no 1.5 for an integer code; forbid: unknown fields
# are an error, not silently dropped. Floats must be finite.
_STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

Metres = Annotated[float, Field(ge=0, le=100_000, description="metres, >= 0")]
Hillshade = Annotated[float, Field(ge=0, le=255, description="hillshade index 0-255")]

# The seed's example request (its README), shown in /docs and used by tests and the benchmark.
EXAMPLE_ROW = {
    "elevation": 2500, "aspect": 180, "slope": 15,
    "horizontal_distance_to_hydrology": 200, "vertical_distance_to_hydrology": 50,
    "horizontal_distance_to_roadways": 1000, "hillshade_9am": 200,
    "hillshade_noon": 230, "hillshade_3pm": 150,
    "horizontal_distance_to_fire_points": 800, "wilderness_area": 1, "soil_type": 10,
}


class CoverRow(BaseModel):
    """One 30 m x 30 m cell of the Roosevelt National Forest (the seed's 12 fields)."""

    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra={"examples": [EXAMPLE_ROW]},
    )

    elevation: float = Field(ge=-500, le=9_000, description="metres above sea level")
    aspect: float = Field(ge=0, le=360, description="azimuth in degrees")
    slope: float = Field(ge=0, le=90, description="degrees")
    horizontal_distance_to_hydrology: Metres
    vertical_distance_to_hydrology: float = Field(
        ge=-10_000, le=10_000, description="metres, negative below the water")
    horizontal_distance_to_roadways: Metres
    hillshade_9am: Hillshade
    hillshade_noon: Hillshade
    hillshade_3pm: Hillshade
    horizontal_distance_to_fire_points: Metres
    wilderness_area: int = Field(ge=0, le=3, description="wilderness area code 0-3")
    soil_type: int = Field(ge=0, le=39, description="soil type code 0-39")


class BatchRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    # The row cap is the API_MAX_BATCH_ROWS setting, checked in main.py (a settings value
    # cannot be a class constant); 64 KiB of body holds about 190 rows anyway.
    rows: list[CoverRow] = Field(min_length=1, description="rows to classify, answered in order")


class Prediction(BaseModel):
    prediction: int = Field(ge=1, le=7, description="cover type 1-7")
    confidence: float = Field(ge=0, le=1, description="probability of the predicted class")
    model_version: str


class BatchPrediction(BaseModel):
    predictions: list[Prediction]


class ModelInfo(BaseModel):
    version: str
    data_source: str = Field(description="'synthetic' (offline generator) or the Covertype copy used")
    training_rows: int
    test_rows: int
    holdout_accuracy: float
    format: str
    estimator: str
    params: dict
    # set when the deploy fetched a registered MLflow model version (api_model_uri)
    registered_name: str | None = None
    registered_version: str | None = None
    registered_uri: str | None = None


class Health(BaseModel):
    status: Literal["ok"]
    model: ModelInfo


class ErrorBody(BaseModel):
    detail: str | list


def field_bounds() -> dict[str, tuple[float, float, bool]]:
    """{field: (low, high, is_integer)} read from CoverRow, for tests and data generators."""
    bounds = {}
    for name, info in CoverRow.model_fields.items():
        low = next(m.ge for m in info.metadata if hasattr(m, "ge"))
        high = next(m.le for m in info.metadata if hasattr(m, "le"))
        bounds[name] = (low, high, info.annotation is int)
    return bounds


FIELD_BOUNDS = field_bounds()
