"""The hot path: POST /predict and /predict/batch as plain ASGI endpoints.

Each request: in-flight admission, Content-Type check, body read with the size limit, one
pydantic-core pass (``model_validate_json``: parse + validate with the schema's bounds), the
compiled forest, orjson out. Skipping FastAPI's request/response machinery here (dependency
solving, ``jsonable_encoder``, response-model validation) is what puts the service above a
FastAPI endpoint that only validates the body and answers a constant. The pydantic models
stay the single definition of the body: main.py publishes them in /docs.
"""

from __future__ import annotations

from typing import Callable

import orjson
from pydantic import BaseModel, ValidationError

from api.admission import Overloaded
from api.limits import BodyTooLarge, ClientGone, read_body

JSON = b"application/json"


class Refusal(Exception):
    def __init__(self, status: int, detail, headers: tuple = ()):
        self.status, self.detail, self.headers = status, detail, headers


def _is_json(scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media_type = value.split(b";", 1)[0].strip().lower()
            return media_type == JSON or (media_type.startswith(b"application/")
                                          and media_type.endswith(b"+json"))
    return False


def parse(model: type[BaseModel], body: bytes) -> BaseModel:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        if any(error["type"] == "json_invalid" for error in errors):
            raise Refusal(400, f"Body is not valid JSON: {errors[0]['msg']}") from None
        raise Refusal(422, [{"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
                            for error in errors]) from None


async def send_json(send, status: int, body: bytes, headers: tuple = ()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", JSON), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class JsonEndpoint:
    """ASGI endpoint: validated JSON body -> ``answer(state, parsed)`` -> JSON bytes."""

    def __init__(self, model: type[BaseModel], answer: Callable, max_body_bytes: int,
                 retry_after_s: int):
        self.model, self.answer, self.max_body_bytes = model, answer, max_body_bytes
        self.retry_after = ((b"retry-after", str(retry_after_s).encode()),)
        self.too_large = f"Body larger than {max_body_bytes} bytes"

    async def __call__(self, scope, receive, send) -> None:
        state = scope["app"].state
        try:
            try:
                state.in_flight.admit()
            except Overloaded:
                raise Refusal(503, "Too many requests in flight; retry later", self.retry_after) from None
            if not _is_json(scope):
                raise Refusal(415, "Content-Type must be application/json")
            try:
                body = await read_body(scope, receive, self.max_body_bytes)
            except BodyTooLarge:
                # the rest of the body is not read: close the connection after answering
                raise Refusal(413, self.too_large, ((b"connection", b"close"),)) from None
            except ClientGone:
                return
            payload = self.answer(state, parse(self.model, body))
        except Refusal as refusal:
            return await send_json(send, refusal.status, orjson.dumps({"detail": refusal.detail}),
                                   refusal.headers)
        await send_json(send, 200, payload)
