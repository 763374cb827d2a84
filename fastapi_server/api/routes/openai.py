"""OpenAI-compatible endpoints: the official ``openai`` client works against ``/v1``.

``POST /v1/audio/transcriptions`` and ``/v1/audio/translations`` take OpenAI's multipart
form (``file``, ``model``, ``language``, ``prompt``, ``response_format``, ``temperature``,
``timestamp_granularities[]``); ``model`` chooses one of ``MODELS`` (``whisper-1``, OpenAI's
name, means the default ``MODEL``). Nothing is stored (``route: "api"``).
``GET /v1/models`` lists every model a request may choose, loaded or not.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from fastapi_server.api.deps import CallerDep, StateDep
from fastapi_server.api.forms import multipart_body, receive_form
from fastapi_server.api.schemas import (
    ModelList,
    ModelObject,
    OpenAIForm,
    OpenAITranscription,
    OpenAIUsage,
    OpenAIVerbose,
    errors,
)
from fastapi_server.exceptions import NotFound
from fastapi_server.service import server_timing, transcribe_file
from transcription import formats
from transcription.inference.engines import TranscribeOptions
from transcription.inference.engines.pool import ModelStatus
from transcription.transcript import Transcript, utc_now

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["openai"])

OWNER = "transcription-router"
_STARTED = int(time.time())
_TEXT_TYPES = {
    "text": "text/plain; charset=utf-8",
    "srt": formats.MEDIA_TYPES["srt"],
    "vtt": formats.MEDIA_TYPES["vtt"],
}

_AUDIO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": OpenAITranscription | OpenAIVerbose,
        "description": "json: `{text}`; verbose_json: segments and words; text, srt, vtt: text.",
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "application/x-subrip": {"schema": {"type": "string"}},
            "text/vtt": {"schema": {"type": "string"}},
        },
    },
    **errors(401, 413, 415, 422, 429, 503),
}
_FORM = multipart_body(OpenAIForm, "The audio file (flac, mp3, mp4, m4a, ogg, wav, webm).")


@router.post(
    "/audio/transcriptions",
    summary="OpenAI-compatible transcription",
    openapi_extra=_FORM,
    responses=_AUDIO_RESPONSES,
)
async def transcriptions(request: Request, state: StateDep, caller: CallerDep) -> Response:
    return await _audio(request, state, "transcribe")


@router.post(
    "/audio/translations",
    summary="OpenAI-compatible translation to English",
    openapi_extra=_FORM,
    responses=_AUDIO_RESPONSES,
)
async def translations(request: Request, state: StateDep, caller: CallerDep) -> Response:
    return await _audio(request, state, "translate")


@router.get(
    "/models",
    response_model=ModelList,
    responses=errors(401, 429),
    summary="Models: loaded, and loadable on first use",
)
async def list_models(state: StateDep, caller: CallerDep) -> ModelList:
    return ModelList(data=[_model(status) for status in state.pool.status()])


@router.get(
    "/models/{model_id}",
    response_model=ModelObject,
    responses=errors(401, 404, 422, 429),
    summary="One model",
)
async def get_model(model_id: str, state: StateDep, caller: CallerDep) -> ModelObject:
    for status in state.pool.status():
        if status.name == model_id:
            return _model(status)
    raise NotFound(f"model {model_id!r} is not served here")


def _model(status: ModelStatus) -> ModelObject:
    return ModelObject(
        id=status.name,
        created=_STARTED,
        owned_by=OWNER,
        loaded=status.loaded,
        default=status.default,
        capacity=status.limit,
    )


async def _audio(request: Request, state: StateDep, task: str) -> Response:
    queued_at = utc_now()
    async with receive_form(request, state, OpenAIForm) as (path, form):
        granularities: set[str] = set(form.timestamp_granularities)
        fmt = form.response_format
        options = TranscribeOptions(
            language=form.language,
            task=task,
            # Word timings cost time: only when asked for, or to time subtitle cues well.
            word_timestamps=fmt in ("srt", "vtt")
            or (fmt == "verbose_json" and "word" in granularities),
            prompt=form.prompt,
            temperature=form.temperature,
            model=form.model,
        )
        diarize = form.diarization(state.settings.engine.diarize_default)
        transcript = await transcribe_file(state, path, options, queued_at, diarize)
    if fmt in _TEXT_TYPES:
        text = transcript.text.strip() + "\n" if fmt == "text" else formats.render(transcript, fmt)
        return Response(text, media_type=_TEXT_TYPES[fmt], headers=server_timing(transcript))
    if fmt == "verbose_json":
        body = _verbose(transcript, task, granularities)
    else:
        body = OpenAITranscription(text=transcript.text, usage=_usage(transcript)).model_dump()
    return JSONResponse(body, headers=server_timing(transcript))


def _usage(transcript: Transcript) -> OpenAIUsage:
    return OpenAIUsage(seconds=math.ceil(transcript.duration))


def _verbose(transcript: Transcript, task: str, granularities: set[str]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        formats.verbose_json(
            transcript, words="word" in granularities, segments="segment" in granularities
        )
    )
    body["task"] = task
    body["usage"] = _usage(transcript).model_dump()
    return body
