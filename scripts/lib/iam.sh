#!/usr/bin/env bash
# IAM (sourced by common.sh): the roles of the router Lambda, the GPU instances and the jobs
# API's three Lambdas, each with one inline policy rendered from scripts/policies/.
# shellcheck disable=SC2034 # ENSURED_*, FOUND_* and the like are read by the callers

# caller_account_id: the account of the credentials in use (an STS call).
caller_account_id() {
  aws_read sts get-caller-identity --query Account --output text
  printf '%s' "$AWS_OUT"
}

# load_account_id: ACCOUNT_ID (AWS_ACCOUNT_ID in config.env, recorded by the first step that
# needs it; step-001 checks it against the credentials) and PARTITION (from the region).
load_account_id() {
  case $AWS_REGION in
    cn-*) PARTITION=aws-cn ;;
    us-gov-*) PARTITION=aws-us-gov ;;
    *) PARTITION=aws ;;
  esac
  ACCOUNT_ID=${AWS_ACCOUNT_ID:-}
  if [[ -z $ACCOUNT_ID ]]; then
    ACCOUNT_ID=$(caller_account_id)
    if ! is_check; then
      set_config AWS_ACCOUNT_ID "$ACCOUNT_ID"
    fi
  fi
  export ACCOUNT_ID PARTITION
}

role_arn() { printf 'arn:%s:iam::%s:role/%s' "$PARTITION" "$ACCOUNT_ID" "$1"; }

# ensure_role NAME TRUST_TEMPLATE DESCRIPTION. Sets ROLE_IS_NEW (true: it has no inline
# policy to look up).
ensure_role() {
  local name=$1 trust description=$3
  trust=$(render_template "$SCRIPTS_DIR/policies/$2")
  ROLE_IS_NEW=false
  if aws_lookup NoSuchEntity iam get-role --role-name "$name" --query Role.AssumeRolePolicyDocument; then
    reconcile "role $name trust policy" "$AWS_OUT" "$trust" \
      aws_do iam update-assume-role-policy --role-name "$name" --policy-document "$trust"
  else
    missing "role $name" create_role "$name" "$trust" "$description"
    ROLE_IS_NEW=true
  fi
}

create_role() {
  aws_do iam create-role --role-name "$1" --assume-role-policy-document "$2" \
    --description "$3" --tags "$(project_tags_list)"
}

# ensure_role_policy ROLE POLICY_NAME TEMPLATE: the role's inline policy, as rendered.
ensure_role_policy() {
  local role=$1 name=$2 document
  document=$(render_template "$SCRIPTS_DIR/policies/$3")
  if [[ $ROLE_IS_NEW == false ]] && aws_lookup NoSuchEntity iam get-role-policy --role-name "$role" --policy-name "$name" \
    --query PolicyDocument; then
    reconcile "policy $name of role $role" "$AWS_OUT" "$document" \
      aws_do iam put-role-policy --role-name "$role" --policy-name "$name" --policy-document "$document"
  else
    missing "policy $name of role $role" \
      aws_do iam put-role-policy --role-name "$role" --policy-name "$name" --policy-document "$document"
  fi
}

# ensure_instance_profile NAME ROLE: an instance profile holding exactly ROLE.
ensure_instance_profile() {
  local name=$1 role=$2
  if aws_lookup NoSuchEntity iam get-instance-profile --instance-profile-name "$name" \
    --query 'InstanceProfile.Roles[].RoleName' --output text; then
    reconcile "instance profile $name role" "$AWS_OUT" "$role" replace_profile_role "$name" "$AWS_OUT" "$role"
  else
    missing "instance profile $name" create_instance_profile "$name" "$role"
  fi
}

create_instance_profile() {
  aws_do iam create-instance-profile --instance-profile-name "$1" --tags "$(project_tags_list)"
  aws_do iam add-role-to-instance-profile --instance-profile-name "$1" --role-name "$2"
}

replace_profile_role() {
  local name=$1 old=$2 role=$3 other
  for other in $old; do
    [[ $other == None ]] || aws_do iam remove-role-from-instance-profile --instance-profile-name "$name" --role-name "$other"
  done
  aws_do iam add-role-to-instance-profile --instance-profile-name "$name" --role-name "$role"
}

# The desired IAM state: step-010 applies it, step-011 checks it.
iam_resources() {
  load_account_id
  ensure_role "$ROUTER_NAME" lambda-trust.json "Router Lambda of $PROJECT_NAME"
  ensure_role_policy "$ROUTER_NAME" router router-policy.json
  router_overflow_policy
  ensure_role "$SERVER_NAME" ec2-trust.json "GPU server instances of $PROJECT_NAME"
  ensure_role_policy "$SERVER_NAME" server server-policy.json
  ensure_instance_profile "$SERVER_NAME" "$SERVER_NAME"
  ensure_role "$WORKER_NAME" ec2-trust.json "Batch worker instances of $PROJECT_NAME"
  ensure_role_policy "$WORKER_NAME" worker worker-policy.json
  ensure_instance_profile "$WORKER_NAME" "$WORKER_NAME"
  ensure_role "$JOBS_API_NAME" lambda-trust.json "Jobs API Lambda of $PROJECT_NAME"
  ensure_role_policy "$JOBS_API_NAME" jobs-api jobs-api-policy.json
  ensure_role "$JOBS_TRACKER_NAME" lambda-trust.json "Jobs tracker Lambda of $PROJECT_NAME"
  ensure_role_policy "$JOBS_TRACKER_NAME" jobs-tracker jobs-tracker-policy.json
  ensure_role "$JOBS_WEBHOOKS_NAME" lambda-trust.json "Jobs webhook sender Lambda of $PROJECT_NAME"
  ensure_role_policy "$JOBS_WEBHOOKS_NAME" jobs-webhooks jobs-webhooks-policy.json
}

# The managed overflow's grants (Transcribe, the overflow's S3 keys, writing transcripts) are
# a second inline policy of the router's role, router-overflow, present only while
# OVERFLOW=transcribe: without the overflow the router writes error records only.
router_overflow_policy() {
  if [[ ${OVERFLOW:-} == transcribe ]]; then
    ensure_role_policy "$ROUTER_NAME" router-overflow router-overflow-policy.json
  elif [[ $ROLE_IS_NEW == false ]] && aws_lookup NoSuchEntity iam get-role-policy --role-name "$ROUTER_NAME" \
    --policy-name router-overflow --query PolicyName --output text; then
    reconcile "policy router-overflow of role $ROUTER_NAME (OVERFLOW is not transcribe)" present absent \
      aws_do iam delete-role-policy --role-name "$ROUTER_NAME" --policy-name router-overflow
  fi
}

# record_role_arns: step-010 records the Lambda roles' ARNs in config.env, step-011 checks
# that config.env holds them.
record_role_arns() {
  local pair
  for pair in ROUTER_ROLE_ARN="$ROUTER_NAME" JOBS_API_ROLE_ARN="$JOBS_API_NAME" JOBS_TRACKER_ROLE_ARN="$JOBS_TRACKER_NAME" \
    JOBS_WEBHOOKS_ROLE_ARN="$JOBS_WEBHOOKS_NAME"; do
    record_or_check "${pair%%=*}" "$(role_arn "${pair#*=}")"
  done
}

# Statements with "Resource": "*" whose Sid does not say why (must be none).
check_policy_scopes() {
  local template bad
  for template in router router-overflow server worker jobs-api jobs-tracker jobs-webhooks; do
    bad=$(py "$LIB_DIR/json_tool.py" statements-without-scope \
      "$(render_template "$SCRIPTS_DIR/policies/$template-policy.json")")
    if [[ $bad != "[]" ]]; then
      drift "policy $template has \"Resource\": \"*\" without an AnyResource Sid: $bad"
    fi
  done
}
