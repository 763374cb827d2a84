#!/usr/bin/env bash
# step-320-store-api-keys.sh: the server's API keys in SSM Parameter Store.
#
# Usage: scripts/step-320-store-api-keys.sh [--dry-run] [--help]
#
# API_KEYS (comma-separated) goes into the SecureString parameter API_KEYS_PARAMETER
# (encrypted with the AWS managed key aws/ssm), which the GPU server reads at start-up
# (its instance profile may read that one parameter). The value never appears in the log.
#
# Inputs:  config.env (API_KEYS, API_KEYS_PARAMETER)
# Creates: the SSM parameter API_KEYS_PARAMETER
# IAM actions: ssm:GetParameter, ssm:PutParameter, ssm:AddTagsToResource
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  require_config API_KEYS
  ensure_parameter "$API_KEYS_PARAMETER" SecureString "$API_KEYS" "API keys of the $PROJECT_NAME GPU server"
}

main "$@"
