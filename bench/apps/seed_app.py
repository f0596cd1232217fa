"""(b) The seed's way of serving the model: per request a one-row pandas DataFrame, then
model.predict and model.predict_proba, under uvicorn defaults. A reference for bench/api.py only."""

import joblib
import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel

FEATURES = [
    "elevation", "aspect", "slope", "horizontal_distance_to_hydrology",
    "vertical_distance_to_hydrology", "horizontal_distance_to_roadways", "hillshade_9am",
    "hillshade_noon", "hillshade_3pm", "horizontal_distance_to_fire_points",
    "wilderness_area", "soil_type",
]

app = FastAPI(title="seed-style reference")
model = joblib.load("/app/model.joblib")


class CoverRow(BaseModel):
    elevation: float
    aspect: float
    slope: float
    horizontal_distance_to_hydrology: float
    vertical_distance_to_hydrology: float
    horizontal_distance_to_roadways: float
    hillshade_9am: float
    hillshade_noon: float
    hillshade_3pm: float
    horizontal_distance_to_fire_points: float
    wilderness_area: int
    soil_type: int


@app.post("/predict")
def predict(row: CoverRow):
    frame = pd.DataFrame([row.model_dump()])[FEATURES]
    prediction = model.predict(frame)[0]
    confidence = model.predict_proba(frame)[0].max()
    return {"prediction": int(prediction), "confidence": float(confidence), "model_version": "seed-style"}


@app.get("/health")
def health():
    return {"status": "ok"}
