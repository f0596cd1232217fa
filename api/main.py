"""The inference API: FastAPI app, lifespan model loading, routes and error answers.

The /predict routes read the body themselves (``CoverRow.model_validate_json`` in one pydantic-
core pass, orjson out) instead of declaring a body parameter: FastAPI's generic body handling
and ``jsonable_encoder`` cost more than the model. The same pydantic models still define the
validation and the /docs schema (see ``_openapi``).
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from pydantic import ValidationError

from api.admission import InFlightLimit, Overloaded
from api.dataset import FEATURES
from api.limits import BodyLimitMiddleware
from api.model import CompiledForest, load_metadata
from api.schemas import (BatchPrediction, BatchRequest, CoverRow, ErrorBody, Health, ModelInfo,
                         Prediction)
from api.settings import Settings

assert tuple(CoverRow.model_fields) == FEATURES, "schema field order must be the model's column order"

JSON = "application/json"
_ERRORS = {
    400: {"model": ErrorBody, "description": "Body is not valid JSON"},
    413: {"model": ErrorBody, "description": "Body larger than API_MAX_BODY_BYTES"},
    415: {"model": ErrorBody, "description": "Content-Type is not application/json"},
    422: {"model": ErrorBody, "description": "Body does not match the schema"},
    503: {"model": ErrorBody, "description": "In-flight bound reached; retry after Retry-After s"},
}


def _json(content, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type=JSON, headers=headers)


def _body_schema(model: type) -> dict:
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {JSON: {"schema": ref}}}}


class _BadRequest(Exception):
    def __init__(self, response: Response):
        self.response = response


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type == JSON or (media_type.startswith("application/") and media_type.endswith("+json"))


async def _validated(request: Request, model: type):
    """The body parsed and validated into ``model``, or a ready 4xx response to send."""
    if not _is_json(request):
        raise _BadRequest(_json({"detail": f"Content-Type must be {JSON}"}, 415))
    body = await request.body()
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        if any(error["type"] == "json_invalid" for error in errors):
            message = f"Body is not valid JSON: {errors[0]['msg']}"
            raise _BadRequest(_json({"detail": message}, 400)) from None
        detail = [{"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
                  for error in errors]
        raise _BadRequest(_json({"detail": detail}, 422)) from None


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Loaded here, not at import: tests import the app cheaply, a bad model fails start-up.
        forest = CompiledForest.load(settings.model_dir)
        metadata = load_metadata(settings.model_dir)
        version = metadata["version"]

        def predict_rows(rows):
            answers = []
            for row in rows:
                answer = forest.predict_row(row)
                answers.append({"prediction": answer.prediction, "confidence": answer.confidence,
                                "model_version": version})
            return answers

        app.state.predict_rows = predict_rows
        app.state.in_flight = InFlightLimit(settings.max_in_flight)
        app.state.health = orjson.dumps(
            {"status": "ok", "model": ModelInfo.model_validate(metadata).model_dump()})
        yield

    app = FastAPI(
        title="rightsize inference API",
        summary="Covertype cover-type classifier (scikit-learn RandomForest, compiled).",
        version="1.0.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    overloaded = {"Retry-After": str(settings.retry_after_s)}

    def refuse_if_overloaded(request: Request) -> Response | None:
        try:
            request.app.state.in_flight.admit()
        except Overloaded:
            return _json({"detail": "Too many requests in flight; retry later"}, 503, overloaded)
        return None

    @app.post("/predict", response_model=Prediction, responses=_ERRORS,
              openapi_extra=_body_schema(CoverRow), summary="Classify one row")
    async def predict(request: Request):
        if refused := refuse_if_overloaded(request):
            return refused
        try:
            row = await _validated(request, CoverRow)
        except _BadRequest as bad:
            return bad.response
        return _json(request.app.state.predict_rows([tuple(row.__dict__.values())])[0])

    @app.post("/predict/batch", response_model=BatchPrediction, responses=_ERRORS,
              openapi_extra=_body_schema(BatchRequest), summary="Classify rows, one answer each")
    async def predict_batch(request: Request):
        if refused := refuse_if_overloaded(request):
            return refused
        try:
            batch = await _validated(request, BatchRequest)
        except _BadRequest as bad:
            return bad.response
        if len(batch.rows) > settings.max_batch_rows:
            return _json({"detail": [{"loc": ["body", "rows"], "type": "too_long",
                                      "msg": f"at most {settings.max_batch_rows} rows"}]}, 422)
        rows = [tuple(row.__dict__.values()) for row in batch.rows]
        return _json({"predictions": request.app.state.predict_rows(rows)})

    @app.get("/health", response_model=Health, summary="Liveness and the model's metadata")
    async def health(request: Request):
        return Response(request.app.state.health, media_type=JSON)

    def _openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                                 routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (CoverRow, BatchRequest):
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(body.pop("$defs", {}))
                components[model.__name__] = body
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = _openapi
    return app


app = create_app()
