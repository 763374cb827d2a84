"""The bootstrap admin key: ``JOBS_ADMIN_KEY``, else the SSM SecureString it names.

``JOBS_ADMIN_KEY_PARAMETER`` names the parameter (the deploy step writes it).

With neither, no admin key exists until one is stored by other means, and the API starts
with a warning (keys already issued keep working).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from jobs_api.settings import JobsSettings
from transcription.exceptions import SettingsError
from transcription.settings import PLACEHOLDERS

__all__ = ["MIN_ADMIN_KEY", "admin_key"]

log = logging.getLogger(__name__)

MIN_ADMIN_KEY = 24


def admin_key(settings: JobsSettings, ssm: Callable[[], Any]) -> str | None:
    token = settings.jobs_admin_key
    if not token and settings.jobs_admin_key_parameter:
        name = settings.jobs_admin_key_parameter
        try:
            response = ssm().get_parameter(Name=name, WithDecryption=True)
        except (ClientError, BotoCoreError) as error:
            raise SettingsError(
                f"JOBS_ADMIN_KEY_PARAMETER={name!r} cannot be read: {error}"
            ) from None
        token = str(response["Parameter"]["Value"]).strip()
        if token.lower() in PLACEHOLDERS:
            raise SettingsError(f"{name} holds a placeholder admin key")
    if not token:
        log.warning("no bootstrap admin key (JOBS_ADMIN_KEY or JOBS_ADMIN_KEY_PARAMETER)")
        return None
    if len(token) < MIN_ADMIN_KEY:
        raise SettingsError(
            f"the bootstrap admin key must have at least {MIN_ADMIN_KEY} characters"
        )
    return token
