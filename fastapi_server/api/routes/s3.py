"""``POST /transcribe-s3``: the router's call. Reads the audio from S3, stores the transcript
(conditional write) and returns it; a current transcript is returned without running the model.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from fastapi_server.api.deps import CallerDep, StateDep
from fastapi_server.api.schemas import TranscribeS3Request, TranscribeS3Response, errors
from fastapi_server.service import S3Result, output_policy, resolve_target, transcribe_s3
from transcription.inference.engines import TranscribeOptions
from transcription.transcript import utc_now

__all__ = ["router"]

router = APIRouter(tags=["transcribe"])


@router.post(
    "/transcribe-s3",
    response_model=TranscribeS3Response,
    summary="Transcribe an S3 object into the transcript store",
    description="Reads `s3_input_path`, writes the transcript JSON and its sidecars to the "
    "layout's place for it (TRANSCRIPT_BUCKET, OUTPUT_PREFIX<path>.json) with conditional "
    'writes, and returns it (`route: "direct"`). `s3_output_path`, when given, must name that '
    "place (or, for an item uploaded to a batch job, the job's result key): anything else is "
    "a 403 `output_not_allowed`. Both buckets must be in ALLOWED_BUCKETS. Concurrent requests "
    "for the same output share one run of the model.",
    responses=errors(400, 401, 403, 404, 409, 413, 415, 422, 429, 502, 503),
)
async def transcribe_from_s3(
    body: TranscribeS3Request, state: StateDep, caller: CallerDep
) -> JSONResponse:
    queued_at = utc_now()
    target = resolve_target(output_policy(state), body.s3_input_path, body.s3_output_path)
    options = TranscribeOptions(language=body.language, model=body.model)
    diarize = body.diarization(state.settings.engine.diarize_default)
    result, _ = await transcribe_s3(state, target, options, queued_at, body.etag, diarize)
    return JSONResponse(_answer(result, body.return_text))


def _answer(result: S3Result, return_text: bool) -> dict[str, Any]:
    answer = result.transcript.to_dict()
    if not return_text:
        answer["text"] = None
        answer["segments"] = None
    answer["output"] = {"uri": result.target.output_uri, "outcome": result.outcome}
    return answer
