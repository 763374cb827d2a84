#!/usr/bin/env bash
# step-340-deploy-lambda-router.sh: the router Lambda, from the zip `make lambda-zip` builds.
#
# Usage: scripts/step-340-deploy-lambda-router.sh [--dry-run] [--help]
#
# Creates or updates $PROJECT_NAME-router (handler lambda_router.handler.lambda_handler,
# LAMBDA_RUNTIME, ROUTER_TIMEOUT, ROUTER_MEMORY_MB, the role of step-010, the VPC subnets and
# router security group of step-310). The code is updated only when the zip's SHA-256
# differs, the configuration only when it differs. Also: reserved concurrency
# (ROUTER_RESERVED_CONCURRENCY) and asynchronous invocation settings — ROUTER_MAX_RETRY_ATTEMPTS,
# ROUTER_MAX_EVENT_AGE_SECONDS and an on-failure destination: the router failure queue of
# step-020 (replay its records with `python -m lambda_router.replay`).
# Environment: AUDIO_BUCKET, INPUT_PREFIX, OUTPUT_PREFIX, QUEUE_URL, SERVER_URL_PARAMETER (the
# router reads the server's URL from SSM, so a relaunched server needs no redeploy),
# API_KEY_PARAMETER (= API_KEYS_PARAMETER, the SecureString of step-320: the router sends its
# first key, read at most every API_KEY_TTL_SECONDS; no key is in the environment), and the
# router's optional settings that config.env sets (TRANSCRIPT_BUCKET, OUTPUT_FORMATS,
# DIRECT_*, HEALTH_*, BREAKER_*, ...).
#
# SQS-only: with no SERVER_URL in config.env (no GPU server yet) the function is deployed
# outside any VPC with none of the server's settings: steps 310 (network) and 320 are not
# needed, and the router queues every upload with reason no_server. Once steps 310–331 have
# added the server (step-330 records SERVER_URL), running this step again moves the
# function into the VPC with the server's settings, and it routes.
#
# Inputs:  config.env; ROUTER_ZIP (default dist/lambda_router.zip, from `make lambda-zip`)
# Creates: the function, its reserved concurrency and event invoke configuration
# Records: ROUTER_FUNCTION_ARN
# IAM actions: lambda:GetFunctionConfiguration, lambda:CreateFunction, lambda:TagResource,
#   lambda:UpdateFunctionCode, lambda:UpdateFunctionConfiguration, lambda:GetFunctionConcurrency,
#   lambda:PutFunctionConcurrency, lambda:GetFunctionEventInvokeConfig,
#   lambda:PutFunctionEventInvokeConfig, iam:PassRole (the $PROJECT_NAME-router role),
#   ec2:DescribeSecurityGroups, ec2:DescribeSubnets, ec2:DescribeVpcs, sts:GetCallerIdentity
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  router_resources
  record_or_check ROUTER_FUNCTION_ARN "$FOUND_ROUTER_FUNCTION_ARN"
}

main "$@"
