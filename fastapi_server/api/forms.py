"""Multipart forms read by :mod:`fastapi_server.uploads`, validated by a pydantic model.

The routes read the request stream themselves (so uploads stream to disk under a size
limit), which means FastAPI cannot see the form: :func:`multipart_body` documents it in the
OpenAPI schema, :func:`parse_form` validates its text fields with the same model.
"""

from __future__ import annotations

import contextlib
import typing
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from fastapi_server.service import engine_of
from fastapi_server.state import ServerState
from fastapi_server.uploads import FILE_FIELD, Upload, receive_upload

__all__ = ["multipart_body", "parse_form", "receive_form"]

F = TypeVar("F", bound=BaseModel)


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list


def parse_form(form: type[F], upload: Upload) -> F:
    """The form's text fields as ``form``; invalid ones raise a 422 (RequestValidationError).

    Empty values count as absent. List fields take every value sent, under the name with or
    without ``[]`` (``timestamp_granularities[]=word``).
    """
    data: dict[str, Any] = {}
    for name, info in form.model_fields.items():
        key = info.alias or name
        values = [
            v
            for k in dict.fromkeys((key, key.removesuffix("[]"), name))
            for v in upload.fields.get(k, [])
            if v != ""
        ]
        if not values:
            continue
        data[key] = values if _is_list(info.annotation) else values[-1]
    try:
        return form.model_validate(data)
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False, include_input=False)) from None


@contextlib.asynccontextmanager
async def receive_form(
    request: Request, state: ServerState, form: type[F], file_field: str = FILE_FIELD
) -> AsyncIterator[tuple[Path, F]]:
    """Refuse early (not ready, or busy) before reading a byte; then stream the upload.

    The form names the model only once read, so the early refusal is for a server on which
    no model could take the request; the chosen model's slots refuse the rest.
    Yields the uploaded file's temp path (removed afterwards) and the validated form.
    """
    engine_of(state)
    state.slots.check_admission()
    async with receive_upload(request, state.settings.max_upload_bytes, file_field) as upload:
        assert upload.path is not None  # receive_upload insists on the file
        yield upload.path, parse_form(form, upload)


def _form_field_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Form fields are never null: keep the non-null branch of ``anyOf: [X, null]``."""
    branches = [b for b in schema.get("anyOf", ()) if b.get("type") != "null"]
    if len(branches) == 1:
        merged = {k: v for k, v in schema.items() if k != "anyOf"}
        merged.update(branches[0])
        if "default" in merged and merged["default"] is None:
            del merged["default"]
        schema = merged
    schema.pop("title", None)
    return schema


def multipart_body(form: type[BaseModel], file_description: str) -> dict[str, Any]:
    """``openapi_extra`` for a route whose body is ``form`` plus a binary ``file`` part."""
    model_schema = form.model_json_schema(by_alias=True)
    properties: dict[str, Any] = {
        FILE_FIELD: {"type": "string", "format": "binary", "description": file_description}
    }
    for name, schema in model_schema.get("properties", {}).items():
        properties[name] = _form_field_schema(dict(schema))
    array_fields = {
        name: {"style": "form", "explode": True}
        for name, schema in properties.items()
        if schema.get("type") == "array"
    }
    media: dict[str, Any] = {
        "schema": {
            "type": "object",
            "properties": properties,
            "required": [FILE_FIELD, *model_schema.get("required", [])],
        }
    }
    if array_fields:
        media["encoding"] = array_fields
    return {"requestBody": {"required": True, "content": {"multipart/form-data": media}}}
