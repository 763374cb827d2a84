"""``POST /transcribe``: a multipart upload in, the transcript out (not stored in S3)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from fastapi_server.api.deps import CallerDep, StateDep
from fastapi_server.api.forms import multipart_body, receive_form
from fastapi_server.api.schemas import TranscribeForm, TranscriptModel, errors
from fastapi_server.service import server_timing, transcribe_file
from transcription import formats
from transcription.inference.engines import TranscribeOptions
from transcription.transcript import utc_now

__all__ = ["router"]

router = APIRouter(tags=["transcribe"])

TEXT_FORMATS = {"text": "txt"}  # aliases: the earlier endpoint said "text"


@router.post(
    "/transcribe",
    summary="Transcribe an uploaded audio file",
    description="Multipart `file` (wav, mp3, m4a, ogg, opus, webm, flac), optional "
    "`language` and `response_format`. Answers the transcript JSON (version 1, "
    '`route: "api"`) or the chosen text format; nothing is stored.',
    openapi_extra=multipart_body(TranscribeForm, "The audio file."),
    responses={
        200: {
            "model": TranscriptModel,
            "description": "The transcript (JSON), or text in the chosen format.",
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/x-subrip": {"schema": {"type": "string"}},
                "text/vtt": {"schema": {"type": "string"}},
                "text/tab-separated-values": {"schema": {"type": "string"}},
            },
        },
        **errors(401, 413, 415, 422, 429, 503),
    },
)
async def transcribe(request: Request, state: StateDep, caller: CallerDep) -> Response:
    queued_at = utc_now()
    async with receive_form(request, state, TranscribeForm) as (path, form):
        options = TranscribeOptions(language=form.language, model=form.model)
        diarize = form.diarization(state.settings.engine.diarize_default)
        transcript = await transcribe_file(state, path, options, queued_at, diarize)
    fmt = TEXT_FORMATS.get(form.response_format, form.response_format)
    return Response(
        formats.render(transcript, fmt),
        media_type=formats.MEDIA_TYPES[fmt],
        headers=server_timing(transcript),
    )
