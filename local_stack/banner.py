"""What `make up` prints once the stack runs: endpoints, the API key, copy-paste examples."""

from __future__ import annotations

from local_stack.files import write_atomically
from local_stack.stack import Stack

__all__ = ["banner", "write_env_file"]


def write_env_file(stack: Stack) -> str:
    """``.local/env.sh``: source it so the AWS CLI talks to the local endpoint.

    It holds the API key and the jobs API's admin key, so it is written 0600 (never readable
    by others, even briefly).
    """
    path = stack.root / "env.sh"
    keys = (
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AUDIO_BUCKET",
        "SERVER_URL",
        "API_KEY",
        "JOBS_API_URL",
        "JOBS_ADMIN_KEY",
        "QUEUE_URL",
        "QUEUE_URL_HIGH",
        "QUEUE_URL_LOW",
        "WEBHOOK_QUEUE_URL",
    )
    text = "".join(f"export {k}='{stack.env[k]}'\n" for k in keys if k in stack.env)
    write_atomically(path, text, mode=0o600)
    return str(path.relative_to(stack.root.parent))


def banner(stack: Stack) -> str:
    env = stack.env
    bucket = env["AUDIO_BUCKET"]
    prefix = env.get("INPUT_PREFIX", "audio/")
    out_prefix = env.get("OUTPUT_PREFIX", "transcripts/")
    endpoint, server, key = stack.endpoint, stack.server_url, stack.api_key
    env_file = write_env_file(stack)
    return f"""
Smart Transcription Router is running locally.

  AWS endpoint (moto)  {endpoint}
  audio bucket         s3://{bucket}/{prefix}
  transcripts          s3://{bucket}/{out_prefix}<path>.json (+ .txt .srt .vtt)
  API server           {server}   (docs: {server}/docs)
  API key              {key}
  jobs API             {stack.jobs_api_url}   (docs: {stack.jobs_api_url}/docs)
  jobs admin key       {env["JOBS_ADMIN_KEY"]}
  web console          {stack.console_url}
  console API key      {stack.console_key}   (paste it into the sign-in field)
  logs                 {stack.logs}/

Upload audio; the router sends it to the server, or to the queue when the server is busy:
  source {env_file}
  .venv/bin/aws --endpoint-url {endpoint} s3 cp tests/samples/speech-one.wav s3://{bucket}/{prefix}talk.wav
  .venv/bin/aws --endpoint-url {endpoint} s3 cp s3://{bucket}/{out_prefix}talk.wav.txt -

Call the server directly:
  curl -H "Authorization: Bearer {key}" -F file=@tests/samples/speech-one.wav {server}/transcribe
  curl -H "Authorization: Bearer {key}" -F file=@tests/samples/speech-one.wav \\
       -F model=tiny.en -F response_format=srt {server}/v1/audio/transcriptions

Run a batch job (JOBS_API_URL and JOBS_ADMIN_KEY come from {env_file}):
  source {env_file}
  examples/jobs_curl.sh tests/samples/speech-one.wav

Ctrl-C (or `make down` from another shell) stops everything.
"""
