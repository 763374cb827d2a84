#!/usr/bin/env bash
# step-370-deploy-jobs-api.sh: the batch jobs API's three Lambdas, from one zip.
#
# Usage: scripts/step-370-deploy-jobs-api.sh [--dry-run] [--help]
#
# From JOBS_API_ZIP or, by default, dist/jobs_api.zip built by `python -m jobs_api.package`
# (jobs_api, the light core and their dependencies for LAMBDA_RUNTIME on x86_64), with the
# roles of step-010:
#   $PROJECT_NAME-jobs-api       jobs_api.handler.api_handler (Mangum around the FastAPI app),
#                                JOBS_API_TIMEOUT, JOBS_API_MEMORY_MB, behind a function URL
#                                with AuthType NONE (the app authenticates with its own API
#                                keys; the URL's permissions let anyone call it, and only
#                                through the URL); the URL is recorded as JOBS_API_URL
#   $PROJECT_NAME-jobs-tracker   jobs_api.handler.tracker_handler, JOBS_TRACKER_TIMEOUT,
#                                JOBS_TRACKER_MEMORY_MB (step-375's rule invokes it)
#   $PROJECT_NAME-jobs-webhooks  jobs_api.handler.webhook_handler, JOBS_WEBHOOKS_TIMEOUT,
#                                JOBS_WEBHOOKS_MEMORY_MB, fed by an SQS trigger on the webhook
#                                queue (JOBS_WEBHOOKS_BATCH_SIZE, ReportBatchItemFailures: a
#                                failed delivery stays queued for its backoff)
# Environment of all three: the storage layout, QUEUE_URL, QUEUE_URL_HIGH, QUEUE_URL_LOW,
# JOBS_TABLE_PREFIX, JOBS_ADMIN_KEY_PARAMETER (the SecureString of step-363; no key is a
# plaintext variable), JOBS_API_URL, WEBHOOK_QUEUE_URL and the JOBS_* and WEBHOOK_* settings
# that config.env sets (not WEBHOOK_ALLOW_LOOPBACK: local stacks only). Code is updated only
# when the zip's SHA-256 differs, configuration only when it differs.
# The web console the API serves uploads to and reads from the buckets with presigned URLs,
# so each bucket (the audio bucket; the transcript bucket too when TRANSCRIPT_BUCKET names
# another one) gets a CORS rule $PROJECT_NAME-console: GET, PUT and HEAD from the function
# URL's origin and each origin of JOBS_CONSOLE_ORIGINS, any request header, ETag exposed,
# preflights cached for an hour (MaxAgeSeconds 3600). Other CORS rules are kept; the buckets
# must exist (step-030).
# Local mode: moto creates the functions, the URL and the trigger but never runs them (the
# local stack serves the API with uvicorn and feeds the tracker and sender in-process).
#
# Inputs:  config.env (JOBS_*_ROLE_ARN, QUEUE_URL*, WEBHOOK_QUEUE_URL, JOBS_*, WEBHOOK_*,
#          JOBS_CONSOLE_ORIGINS, AUDIO_BUCKET, TRANSCRIPT_BUCKET); JOBS_API_ZIP
# Creates: the three functions, the function URL and its two permissions, the SQS trigger,
#          the buckets' CORS rule
# Records: JOBS_API_FUNCTION_ARN, JOBS_TRACKER_FUNCTION_ARN, JOBS_WEBHOOKS_FUNCTION_ARN,
#          JOBS_API_URL
# IAM actions: lambda:GetFunctionConfiguration, lambda:CreateFunction, lambda:TagResource,
#   lambda:UpdateFunctionCode, lambda:UpdateFunctionConfiguration,
#   lambda:GetFunctionUrlConfig, lambda:CreateFunctionUrlConfig,
#   lambda:UpdateFunctionUrlConfig, lambda:GetPolicy, lambda:AddPermission,
#   lambda:RemovePermission, lambda:ListEventSourceMappings,
#   lambda:CreateEventSourceMapping, lambda:UpdateEventSourceMapping, sqs:GetQueueAttributes,
#   iam:PassRole (the three jobs roles), s3:ListBucket (HeadBucket), s3:GetBucketCORS,
#   s3:PutBucketCORS, sts:GetCallerIdentity
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  jobs_api_resources
  console_cors_resources
  record_jobs_api
}

main "$@"
