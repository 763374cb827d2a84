#!/usr/bin/env bash
# step-351-deploy-batch-scheduler.sh: the scheduler Lambda and its EventBridge schedule.
#
# Usage: scripts/step-351-deploy-batch-scheduler.sh [--dry-run] [--help]
#
# Function $PROJECT_NAME-scheduler (handler batch_worker.scheduler.lambda_handler, the role
# of step-010, SCHEDULER_TIMEOUT, SCHEDULER_MEMORY_MB, reserved concurrency 1 so two runs
# never overlap), from SCHEDULER_ZIP or, by default, a reproducible zip of batch_worker/ and
# transcription/ built into dist/batch_scheduler.zip. Environment: QUEUE_URL, PROJECT_NAME
# and MAX_WORKERS, JOBS_PER_WORKER, WORKER_TAG_KEY, WORKER_TAG_VALUE when config.env sets them.
# Rule $PROJECT_NAME-scheduler runs it on SCHEDULER_SCHEDULE (default rate(1 minute)).
# In local mode the rule gets no target: moto cannot run the scheduler, and a rule with a
# Lambda target stops moto delivering events to later rules (the upload trigger).
#
# Inputs:  config.env (SCHEDULER_ROLE_ARN, QUEUE_URL, SCHEDULER_*, MAX_WORKERS, ...)
# Creates: the function, its reserved concurrency, the rule, its target and permission
# Records: SCHEDULER_FUNCTION_ARN
# IAM actions: lambda:GetFunctionConfiguration, lambda:CreateFunction, lambda:TagResource,
#   lambda:UpdateFunctionCode, lambda:UpdateFunctionConfiguration, lambda:GetFunctionConcurrency,
#   lambda:PutFunctionConcurrency, lambda:GetPolicy, lambda:AddPermission,
#   lambda:RemovePermission, iam:PassRole (the $PROJECT_NAME-scheduler role),
#   events:DescribeRule, events:PutRule, events:TagResource, events:ListTargetsByRule,
#   events:PutTargets, events:RemoveTargets, sts:GetCallerIdentity
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  scheduler_resources
  record_or_check SCHEDULER_FUNCTION_ARN "$FOUND_SCHEDULER_FUNCTION_ARN"
}

main "$@"
