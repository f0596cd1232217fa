"""The inference API: the FastAPI app, model loading in its lifespan, the routes, /docs.

/health and the docs are ordinary FastAPI routes. /predict and /predict/batch are plain ASGI
endpoints (endpoints.py) on the same router, validated by the same pydantic models, which
``_document_predict_routes`` publishes so /docs shows their bodies and answers. ``HotPath``
sends POST requests for those two paths straight to their endpoints, skipping FastAPI's
middleware stack and router: measured at --cpus 1.0, 10.6k -> 15-16k requests/s per core.
"""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.routing import Route

from api.admission import InFlightLimit
from api.dataset import FEATURES
from api.endpoints import JsonEndpoint, Refusal
from api.model import CompiledForest, load_metadata
from api.schemas import BatchPrediction, BatchRequest, CoverRow, ErrorBody, Health, ModelInfo, Prediction
from api.settings import Settings

assert tuple(CoverRow.model_fields) == FEATURES, "schema field order must be the model's column order"


def _predict_one(state, row: CoverRow) -> bytes:
    answer = state.forest.predict_row(tuple(row.__dict__.values()))
    return orjson.dumps({"prediction": answer.prediction, "confidence": answer.confidence,
                         "model_version": state.model_version})


def _predict_batch(state, batch: BatchRequest) -> bytes:
    if len(batch.rows) > state.settings.max_batch_rows:
        raise Refusal(422, [{"loc": ["body", "rows"], "type": "too_long",
                             "msg": f"at most {state.settings.max_batch_rows} rows"}])
    forest, version = state.forest, state.model_version
    answers = []
    for row in batch.rows:
        answer = forest.predict_row(tuple(row.__dict__.values()))
        answers.append({"prediction": answer.prediction, "confidence": answer.confidence,
                        "model_version": version})
    return orjson.dumps({"predictions": answers})


@asynccontextmanager
async def lifespan(app: FastAPI):
    # Loaded here, not at import: tests import the app cheaply, a bad model fails start-up.
    settings = app.state.settings
    app.state.forest = CompiledForest.load(settings.model_dir)
    metadata = load_metadata(settings.model_dir)
    app.state.model_version = metadata["version"]
    app.state.health = orjson.dumps(
        {"status": "ok", "model": ModelInfo.model_validate(metadata).model_dump()})
    app.state.in_flight = InFlightLimit(settings.max_in_flight)
    # The compiled trees live as long as the process: keep them out of every GC pass.
    gc.collect()
    gc.freeze()
    yield


class HotPath:
    """The ASGI entry point: POST /predict[/batch] -> endpoint; everything else (lifespan,
    /health, /docs, wrong methods, unknown paths) -> the FastAPI app."""

    HOT = ("/predict", "/predict/batch")

    def __init__(self, fastapi_app: FastAPI):
        self.fastapi = fastapi_app
        self.state = fastapi_app.state
        self.endpoints = {route.path: route.app for route in fastapi_app.router.routes
                          if isinstance(route, Route) and route.path in self.HOT}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.endpoints.get(scope["path"])
            if endpoint is not None:
                scope["app"] = self.fastapi  # what Starlette would set: endpoints read its state
                return await endpoint(scope, receive, send)
        return await self.fastapi(scope, receive, send)


def create_app(settings: Settings | None = None) -> HotPath:
    return HotPath(create_fastapi(settings))


def create_fastapi(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(
        title="rightsize inference API",
        summary="Covertype cover-type classifier (scikit-learn RandomForest, compiled).",
        version="1.0.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    endpoint = dict(max_body_bytes=settings.max_body_bytes, retry_after_s=settings.retry_after_s)
    app.router.routes.append(Route("/predict", JsonEndpoint(CoverRow, _predict_one, **endpoint),
                                   methods=["POST"]))
    app.router.routes.append(Route("/predict/batch", JsonEndpoint(BatchRequest, _predict_batch, **endpoint),
                                   methods=["POST"]))

    @app.get("/health", response_model=Health, summary="Liveness and the model's metadata")
    async def health(request: Request):
        return Response(request.app.state.health, media_type="application/json")

    def _openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = _document_predict_routes(
                get_openapi(title=app.title, version=app.version, summary=app.summary,
                            routes=app.routes))
        return app.openapi_schema

    app.openapi = _openapi
    return app


_ERRORS = {
    "400": "Body is not valid JSON",
    "413": "Body larger than API_MAX_BODY_BYTES",
    "415": "Content-Type is not application/json",
    "422": "Body does not match the schema (detail lists each field error)",
    "503": "In-flight bound reached; retry after the Retry-After header's seconds",
}


def _document_predict_routes(schema: dict) -> dict:
    """Add the two ASGI endpoints to the OpenAPI document, from the pydantic models."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (CoverRow, BatchRequest, Prediction, BatchPrediction, ErrorBody):
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(body.pop("$defs", {}))
        components[model.__name__] = body

    def ref(model: type) -> dict:
        return {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}

    def operation(summary: str, body: type, answer: type) -> dict:
        responses = {"200": {"description": "One answer per row", "content": ref(answer)}}
        responses.update({code: {"description": text, "content": ref(ErrorBody)}
                          for code, text in _ERRORS.items()})
        return {"post": {"summary": summary, "operationId": summary.lower().replace(" ", "_"),
                         "requestBody": {"required": True, "content": ref(body)},
                         "responses": responses}}

    schema["paths"]["/predict"] = operation("Classify one row", CoverRow, Prediction)
    schema["paths"]["/predict/batch"] = operation("Classify rows", BatchRequest, BatchPrediction)
    return schema


app = create_app()
