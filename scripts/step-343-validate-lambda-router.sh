#!/usr/bin/env bash
# step-343-validate-lambda-router.sh: check the router Lambda of step-340 (code, configuration,
# environment, reserved concurrency, on-failure destination) and the EventBridge rules and
# target of step-341 against what those steps would create today.
#
# Usage: scripts/step-343-validate-lambda-router.sh [--help]
#
# Inputs:  config.env; ROUTER_ZIP
# Creates: nothing
# IAM actions: lambda:GetFunctionConfiguration, lambda:GetFunctionConcurrency,
#   lambda:GetFunctionEventInvokeConfig, lambda:GetPolicy, events:DescribeRule,
#   events:ListTargetsByRule, sts:GetCallerIdentity
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  CHECK_ONLY=1
  router_resources
  record_or_check ROUTER_FUNCTION_ARN "$FOUND_ROUTER_FUNCTION_ARN"
  trigger_resources
  finish_check
}

main "$@"
