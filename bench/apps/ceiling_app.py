"""(c) The framework ceiling: FastAPI validating the same 12-field body (api/schemas.py's CoverRow)
and answering a constant. No model. A reference for bench/api.py only."""

from fastapi import FastAPI

from schemas import CoverRow, Prediction

app = FastAPI(title="constant-answer ceiling")


@app.post("/predict", response_model=Prediction)
async def predict(row: CoverRow):
    return {"prediction": 2, "confidence": 1.0, "model_version": "constant"}


@app.get("/health")
async def health():
    return {"status": "ok"}
