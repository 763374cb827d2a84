"""The console's security headers: a strict Content-Security-Policy and its companions.

No inline script or style, nothing from another origin but S3's: the browser PUTs uploads to
presigned URLs, fetches transcripts and downloads from presigned GETs (``connect-src``) and
plays the audio from one (``media-src``). S3's origin is read off a presigned URL the API's
own client makes (virtual-hosted or path style, an endpoint URL or AWS), for the audio and
the output bucket, so it is always the origin the API hands out.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from jobs_api.state import AppState

__all__ = ["headers", "s3_origins"]


def s3_origins(state: AppState) -> list[str]:
    """The origins of presigned URLs for the audio and the output bucket (no network call)."""
    storage = state.settings.storage
    origins = []
    for bucket in (storage.audio_bucket, storage.output_bucket):
        url = state.s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "console"}, ExpiresIn=60
        )
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in origins:
            origins.append(origin)
    return origins


def headers(state: AppState) -> dict[str, str]:
    s3 = " ".join(s3_origins(state))
    policy = "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {s3}",
            f"media-src 'self' {s3}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }
