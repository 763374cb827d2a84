#!/usr/bin/env bash
# step-381-validate-alarms-and-dashboard.sh: check the alarms and the dashboard of step-380
# against the templates and config.env.
#
# Usage: scripts/step-381-validate-alarms-and-dashboard.sh [--help]
#
# Inputs:  config.env
# Creates: nothing
# IAM actions: cloudwatch:DescribeAlarms, cloudwatch:GetDashboard
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  CHECK_ONLY=1
  operations_resources
  finish_check
}

main "$@"
