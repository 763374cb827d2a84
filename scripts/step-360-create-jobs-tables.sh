#!/usr/bin/env bash
# step-360-create-jobs-tables.sh: the jobs API's DynamoDB tables.
#
# Usage: scripts/step-360-create-jobs-tables.sh [--dry-run] [--help]
#
# <JOBS_TABLE_PREFIX>-jobs, -api-keys, -audit and -rates, exactly as `python -m jobs_api
# tables` prints them (jobs_api/tables.py): their keys, the jobs table's by_owner index,
# on-demand billing (PAY_PER_REQUEST), and TTL on expires_at for the audit and rates tables.
# A table that exists with other keys or indexes stops the step (they cannot change in
# place); a missing TTL is turned on.
#
# Inputs:  config.env (JOBS_TABLE_PREFIX; QUEUE_URL, recorded by step-020, which the jobs
#          API's settings need)
# Creates: the four tables, their TTL
# IAM actions: sts:GetCallerIdentity, dynamodb:DescribeTable, dynamodb:CreateTable,
#   dynamodb:TagResource, dynamodb:DescribeTimeToLive, dynamodb:UpdateTimeToLive
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  jobs_tables_resources
}

main "$@"
