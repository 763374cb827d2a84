#!/usr/bin/env bash
# step-010-setup-iam-permissions.sh: least-privilege roles for the router Lambda, the
# GPU instances and the jobs API's three Lambdas.
#
# Usage: scripts/step-010-setup-iam-permissions.sh [--dry-run] [--help]
#
# Roles (each with one inline policy from scripts/policies/, scoped to the project's bucket,
# prefixes, queues, SSM parameters, ECR repositories, log groups and tagged instances; the
# few "Resource": "*" statements are explained in scripts/policies/README.md):
#   $PROJECT_NAME-router         router Lambda          (router-policy.json; with
#                                OVERFLOW=transcribe also router-overflow-policy.json,
#                                removed again when the overflow is turned off)
#   $PROJECT_NAME-server         GPU server instance    (server-policy.json) + instance profile
#   $PROJECT_NAME-worker         batch workers          (worker-policy.json) + instance profile
#   $PROJECT_NAME-jobs-api       jobs API Lambda        (jobs-api-policy.json)
#   $PROJECT_NAME-jobs-tracker   jobs tracker Lambda    (jobs-tracker-policy.json)
#   $PROJECT_NAME-jobs-webhooks  webhook sender Lambda  (jobs-webhooks-policy.json)
# Queue, table, bucket and parameter ARNs are derived from the names, so this step may run
# before the resources exist. Existing roles get their trust and inline policy brought up to date.
#
# Inputs:  config.env (AWS_REGION, PROJECT_NAME, AUDIO_BUCKET, TRANSCRIPT_BUCKET,
#          INPUT_PREFIX, OUTPUT_PREFIX, SERVER_URL_PARAMETER, API_KEYS_PARAMETER,
#          JOBS_TABLE_PREFIX, JOBS_ADMIN_KEY_PARAMETER, JOBS_EVENT_BUS, OVERFLOW,
#          OVERFLOW_PREFIX)
# Creates: the six roles, their inline policies, two instance profiles
# Records: ROUTER_ROLE_ARN, JOBS_API_ROLE_ARN, JOBS_TRACKER_ROLE_ARN,
#          JOBS_WEBHOOKS_ROLE_ARN
# IAM actions: sts:GetCallerIdentity, iam:GetRole, iam:CreateRole, iam:TagRole,
#   iam:UpdateAssumeRolePolicy, iam:GetRolePolicy, iam:PutRolePolicy, iam:GetInstanceProfile,
#   iam:CreateInstanceProfile, iam:TagInstanceProfile, iam:AddRoleToInstanceProfile,
#   iam:RemoveRoleFromInstanceProfile, iam:DeleteRolePolicy
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  iam_resources
  record_role_arns
}

main "$@"
