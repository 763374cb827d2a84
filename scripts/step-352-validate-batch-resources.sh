#!/usr/bin/env bash
# step-352-validate-batch-resources.sh: check the worker instances of step-350 (count, tags,
# shutdown behaviour, user data) and the scheduler Lambda and schedule of step-351.
#
# Usage: scripts/step-352-validate-batch-resources.sh [--help]
#
# Inputs:  config.env
# Creates: nothing in AWS (it builds dist/batch_scheduler.zip to compare the code)
# IAM actions: ec2:DescribeInstances, ec2:DescribeInstanceAttribute,
#   lambda:GetFunctionConfiguration, lambda:GetFunctionConcurrency, lambda:GetPolicy,
#   events:DescribeRule, events:ListTargetsByRule, sts:GetCallerIdentity
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  CHECK_ONLY=1
  worker_resources
  scheduler_resources
  record_or_check SCHEDULER_FUNCTION_ARN "$FOUND_SCHEDULER_FUNCTION_ARN"
  finish_check
}

main "$@"
