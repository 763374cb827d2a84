#!/usr/bin/env bash
# Call the server directly with curl: the native endpoint, then the OpenAI-compatible one.
#   SERVER_URL=http://127.0.0.1:8000 API_KEY=... examples/curl.sh talk.wav
# The README shows this file; the end-to-end tests run it against the local stack.
set -o errexit -o nounset -o pipefail
file=${1:?usage: examples/curl.sh AUDIO_FILE}

curl --silent --show-error --fail-with-body \
  -H "Authorization: Bearer ${API_KEY}" \
  -F "file=@${file}" \
  "${SERVER_URL}/transcribe"
echo

curl --silent --show-error --fail-with-body \
  -H "Authorization: Bearer ${API_KEY}" \
  -F "file=@${file}" -F model=tiny.en -F response_format=srt \
  "${SERVER_URL}/v1/audio/transcriptions"
