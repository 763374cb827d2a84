#!/usr/bin/env bash
# The batch job API with curl: issue a key, create a job with an uploaded item, upload, poll,
# fetch the results, list, cancel.
#   JOBS_API_URL=http://127.0.0.1:8100 JOBS_ADMIN_KEY=... examples/jobs_curl.sh talk.wav
# The README shows this file; tests/jobs_api/test_examples.py runs it.
set -o errexit -o nounset -o pipefail
file=${1:?usage: examples/jobs_curl.sh AUDIO_FILE}
api=${JOBS_API_URL:?JOBS_API_URL is required}
call() { curl --silent --show-error --fail-with-body "$@"; }

# An admin issues a key for a team; the key and its webhook secret are shown only now.
issued=$(call -X POST "${api}/v1/auth/keys" \
  -H "Authorization: Bearer ${JOBS_ADMIN_KEY:?JOBS_ADMIN_KEY is required}" \
  -H "Content-Type: application/json" \
  -d '{"owner": "team-a", "scopes": ["jobs:write", "jobs:read"]}')
key=$(jq -r .key <<<"${issued}")
auth="Authorization: Bearer ${key}"

# A job of one item to upload; the same Idempotency-Key makes a retry return the same job.
job=$(call -X POST "${api}/v1/jobs" -H "${auth}" -H "Content-Type: application/json" \
  -H "Idempotency-Key: example-$(date +%s)" \
  -d '{"job_type": "asr", "priority": "high", "items": [{"id": "talk", "upload": true, "ext": "wav"}]}')
job_id=$(jq -r .job_id <<<"${job}")
upload_url=$(jq -r '.uploads[0].url' <<<"${job}")
call -X PUT --upload-file "${file}" "${upload_url}"

# Progress, the results' presigned URLs (after the job ends), your jobs, and a cancel.
call -H "${auth}" "${api}/v1/jobs/${job_id}" | jq '{status, progress}'
call -H "${auth}" "${api}/v1/jobs/${job_id}/results" | jq '.items[] | {id, status}'
call -H "${auth}" "${api}/v1/jobs?status=queued" | jq '[.jobs[].job_id]'
call -X DELETE -H "${auth}" "${api}/v1/jobs/${job_id}" | jq '{status, progress}'
