#!/usr/bin/env bash
# step-371-validate-jobs-api.sh: check the jobs API's Lambdas of step-370 (code, handlers,
# roles, environment), its function URL and permissions, the webhook sender's SQS trigger
# (enabled, batch size, ReportBatchItemFailures), the buckets' console CORS rule (the
# function URL's origin and JOBS_CONSOLE_ORIGINS) and the admin key parameter of step-363
# against what those steps would create today; then GET $JOBS_API_URL/v1/health must answer
# 200 within JOBS_API_HEALTH_TIMEOUT seconds. Local mode: moto cannot run Lambda code, so
# the health check is skipped (saying so); everything else is checked.
#
# Usage: scripts/step-371-validate-jobs-api.sh [--help]
#
# Inputs:  config.env; JOBS_API_ZIP (else it builds dist/jobs_api.zip to compare the code)
# Creates: nothing in AWS
# IAM actions: lambda:GetFunctionConfiguration, lambda:GetFunctionUrlConfig, lambda:GetPolicy,
#   lambda:ListEventSourceMappings, sqs:GetQueueAttributes, ssm:GetParameter,
#   s3:ListBucket (HeadBucket), s3:GetBucketCORS, sts:GetCallerIdentity
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  CHECK_ONLY=1
  ensure_admin_key
  jobs_api_resources
  console_cors_resources
  record_jobs_api
  check_jobs_api_health
  finish_check
}

main "$@"
