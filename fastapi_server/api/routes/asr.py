"""whisper-asr-webservice's API, for its clients (Bazarr's Whisper provider, subgen's users).

``POST /asr`` takes the audio as the multipart part ``audio_file`` and everything else in
the query (``task``, ``language``, ``output`` txt/vtt/srt/tsv/json, ``word_timestamps``,
``encode``, ``initial_prompt``); it answers the transcript in that format (``json`` is this
server's transcript JSON: ``text``, ``segments`` and ``language`` as Whisper's has them,
plus more). ``POST
/detect-language`` answers ``{"detected_language", "language_code", "confidence"}``.

``encode=true`` (the default) means the upload is a media file, decoded here (PyAV);
``encode=false`` means the client decoded it already into raw 16 kHz mono s16le PCM, as
Bazarr does with ffmpeg before every request. Bazarr sends no header of its own: the key
travels as the HTTP Basic password of its endpoint URL (see :mod:`fastapi_server.api.deps`).
Both endpoints also accept an optional ``model`` (one of ``MODELS``); ``vad_filter`` and
``video_file`` are accepted and ignored (VAD is always on here).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response

from fastapi_server.api.deps import AsrCallerDep, StateDep
from fastapi_server.api.schemas import MODEL_DESCRIPTION, DetectedLanguage, Language, errors
from fastapi_server.exceptions import NoSpeech
from fastapi_server.service import choose_model, engine_of, server_timing, transcribe_file
from fastapi_server.state import ServerState
from fastapi_server.uploads import Upload, receive_upload
from transcription import formats
from transcription.inference.audio import Audio, decode_audio, decode_pcm
from transcription.inference.engines import TranscribeOptions
from transcription.inference.engines.language_detection import LanguageDetection
from transcription.languages import language_name
from transcription.transcript import Transcript, utc_now

__all__ = ["router"]

router = APIRouter(tags=["whisper-asr-webservice"])

AUDIO_FIELD = "audio_file"
EncodeQuery = Annotated[
    bool,
    Query(description="true: a media file, decoded here; false: raw 16 kHz mono s16le PCM."),
]
VideoFileQuery = Annotated[str | None, Query(description="Accepted and ignored.")]
ModelQuery = Annotated[str | None, Query(max_length=256, description=MODEL_DESCRIPTION)]


def _body(description: str) -> dict[str, Any]:
    part = {AUDIO_FIELD: {"type": "string", "format": "binary", "description": description}}
    schema = {"type": "object", "properties": part, "required": [AUDIO_FIELD]}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


@router.post(
    "/asr",
    summary="Transcribe (whisper-asr-webservice compatible)",
    openapi_extra=_body("The audio or video file (or raw PCM with encode=false)."),
    responses={
        200: {
            "description": "The transcript in the chosen `output` format.",
            "content": {
                media_type: {"schema": {"type": "string"}}
                for media_type in dict.fromkeys(
                    formats.MEDIA_TYPES[f].split(";")[0] for f in ("txt", "srt", "vtt", "tsv")
                )
            }
            | {"application/json": {"schema": {"type": "object"}}},
        },
        **errors(401, 413, 415, 422, 429, 503),
    },
)
async def asr(
    request: Request,
    state: StateDep,
    caller: AsrCallerDep,
    task: Literal["transcribe", "translate"] = "transcribe",
    language: Annotated[Language, Query()] = None,
    output: Literal["txt", "vtt", "srt", "tsv", "json"] = "txt",
    word_timestamps: bool = False,
    encode: EncodeQuery = True,
    initial_prompt: Annotated[str | None, Query(max_length=4000)] = None,
    vad_filter: Annotated[bool, Query(description="Accepted; VAD is always on here.")] = False,
    video_file: VideoFileQuery = None,
    model: ModelQuery = None,
) -> Response:
    queued_at = utc_now()
    options = TranscribeOptions(
        language=language,
        task=task,
        # Word timings cost time: only when asked for, or to time subtitle cues well.
        word_timestamps=word_timestamps or output in ("srt", "vtt"),
        prompt=initial_prompt,
        model=choose_model(state, model),
    )
    async with _received(request, state) as upload:
        audio = await _audio(state, upload, encode)
        transcript = await transcribe_file(state, audio, options, queued_at)
    filename = quote(upload.filename or AUDIO_FIELD)
    return Response(
        formats.render(transcript, output),
        media_type=formats.MEDIA_TYPES[output],
        headers={
            **server_timing(transcript),
            "Asr-Engine": transcript.engine,
            "Content-Disposition": f'attachment; filename="{filename}.{output}"',
        },
    )


@router.post(
    "/detect-language",
    response_model=DetectedLanguage,
    summary="Detect the spoken language (whisper-asr-webservice compatible)",
    openapi_extra=_body("The audio or video file (or raw PCM with encode=false)."),
    responses=errors(401, 413, 415, 422, 429, 503),
)
async def detect_language(
    request: Request,
    state: StateDep,
    caller: AsrCallerDep,
    encode: EncodeQuery = True,
    video_file: VideoFileQuery = None,
    model: ModelQuery = None,
) -> DetectedLanguage:
    name = choose_model(state, model)
    async with _received(request, state) as upload:
        audio = await _audio(state, upload, encode)
        found = await state.slots[name].run(_detect, state, audio, name)
    if found is None or found.language is None:
        raise NoSpeech("no speech was heard in the audio: there is no language to detect")
    probability = (
        found.probability if isinstance(found, LanguageDetection) else found.language_probability
    )
    return DetectedLanguage(
        detected_language=language_name(found.language).lower(),
        language_code=found.language,
        confidence=probability,
    )


@contextlib.asynccontextmanager
async def _received(request: Request, state: ServerState) -> AsyncIterator[Upload]:
    """The upload (its temp file removed afterwards), once the server could take it."""
    engine_of(state)
    state.slots.check_admission()
    async with receive_upload(request, state.settings.max_upload_bytes, AUDIO_FIELD) as upload:
        yield upload


async def _audio(state: ServerState, upload: Upload, encode: bool) -> Path | Audio:
    """``encode=true``: the file (decoded in the slot); ``false``: its raw PCM samples."""
    path = upload.path
    assert path is not None  # receive_upload insists on the file
    if encode:
        return path
    return await anyio.to_thread.run_sync(decode_pcm, path, state.settings.engine.max_audio_seconds)


def _detect(
    state: ServerState, audio: Path | Audio, model: str
) -> LanguageDetection | Transcript | None:
    """In a slot of ``model``: decode if needed, then detect."""
    if not isinstance(audio, Audio):
        audio = decode_audio(audio, max_seconds=state.settings.engine.max_audio_seconds)
    return state.pool.detect_language(audio.samples, model)
