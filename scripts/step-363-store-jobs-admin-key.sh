#!/usr/bin/env bash
# step-363-store-jobs-admin-key.sh: the jobs API's bootstrap admin key in SSM Parameter Store.
#
# Usage: scripts/step-363-store-jobs-admin-key.sh [--dry-run] [--help]
#
# A generated key (32 random bytes, URL-safe base64: 43 characters) goes into the
# SecureString parameter JOBS_ADMIN_KEY_PARAMETER (default /$PROJECT_NAME/jobs-admin-key,
# encrypted with the AWS managed key aws/ssm). The jobs API Lambda reads it at its cold start
# and stores it as the key with id "bootstrap", which issues every other key
# (POST /v1/auth/keys). Once stored it is kept: a second run changes nothing, so the key in
# use stays valid (to rotate it, delete the parameter, run this step again and redeploy the
# API with step-370). The key never appears in the log; read it with
#   aws ssm get-parameter --name /$PROJECT_NAME/jobs-admin-key --with-decryption \
#     --query Parameter.Value --output text
#
# Inputs:  config.env (JOBS_ADMIN_KEY_PARAMETER)
# Creates: the SSM parameter JOBS_ADMIN_KEY_PARAMETER
# Records: JOBS_ADMIN_KEY_PARAMETER
# IAM actions: ssm:GetParameter, ssm:PutParameter, ssm:AddTagsToResource
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  ensure_admin_key
  record_or_check JOBS_ADMIN_KEY_PARAMETER "$JOBS_ADMIN_KEY_PARAMETER"
}

main "$@"
