#!/usr/bin/env bash
# step-011-validate-iam-permissions.sh: check the roles, policies and instance profiles of
# step-010 against what step-010 would create today (no drift, nothing missing), and that no
# policy grants "Resource": "*" except the statements that say why (Sid ending AnyResource).
#
# Usage: scripts/step-011-validate-iam-permissions.sh [--help]
#
# Inputs:  config.env
# Creates: nothing
# IAM actions: sts:GetCallerIdentity, iam:GetRole, iam:GetRolePolicy, iam:GetInstanceProfile
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  CHECK_ONLY=1
  iam_resources
  check_policy_scopes
  record_role_arns
  finish_check
}

main "$@"
