#!/usr/bin/env bash
# step-361-validate-jobs-tables.sh: check the jobs API's DynamoDB tables of step-360 (keys,
# indexes, on-demand billing, TTL) against `python -m jobs_api tables`.
#
# Usage: scripts/step-361-validate-jobs-tables.sh [--help]
#
# Inputs:  config.env (JOBS_TABLE_PREFIX, QUEUE_URL)
# Creates: nothing
# IAM actions: sts:GetCallerIdentity, dynamodb:DescribeTable, dynamodb:DescribeTimeToLive
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  CHECK_ONLY=1
  jobs_tables_resources
  finish_check
}

main "$@"
