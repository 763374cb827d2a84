#!/usr/bin/env bash
# step-999-destroy-all-resources.sh: delete everything the steps created for PROJECT_NAME,
# and nothing else.
#
# Usage: scripts/step-999-destroy-all-resources.sh [--yes] [--keep-buckets] [--dry-run] [--help]
#
# Asks first unless --yes is given. Deletes, in this order, what it finds by name
# ($PROJECT_NAME-...) or by the tags Project=$PROJECT_NAME and
# ManagedBy=transcription-router-scripts: the EventBridge rules (targets first); the jobs
# webhook sender's SQS trigger and the jobs API's function URL; the router and jobs API
# Lambdas (API, tracker, webhook sender) and their log groups; the worker fleet (the Auto
# Scaling group, force-deleted with its instances and scaling policies, its launch template,
# the alarms and the dashboard); the GPU server instance (terminated); the VPC endpoints and
# security groups; the SSM parameters (the jobs admin key too); the ECR repositories with
# their images; the bucket(s) — only those step-030 created (tagged), with every object in
# them (their CORS rules go with them), unless --keep-buckets: a bucket kept (by the flag, or
# because step-030 did not create it) loses only step-370's console CORS rule; the jobs API's DynamoDB tables (JOBS_TABLE_PREFIX-jobs,
# -api-keys, -audit, -rates) with every job, key and audit entry in them; the queues (the
# jobs API's priority, webhook and result-event queues too); the roles, their inline
# policies and the instance profiles. Then it clears the values the steps recorded in
# config.env. The scheduler Lambda, its schedule rule and role of deployments made before
# the worker group (step-351 used to deploy them) are deleted too, when found.
# Resources already gone are skipped, so it can be run again. Security groups are retried
# while AWS releases the router's network interfaces (up to DESTROY_WAIT_SECONDS).
#
# Inputs:  config.env
# Deletes: the resources above
# IAM actions: events:ListTargetsByRule, events:RemoveTargets, events:DeleteRule,
#   lambda:ListEventSourceMappings, lambda:DeleteEventSourceMapping,
#   lambda:DeleteFunctionUrlConfig, lambda:DeleteFunction, logs:DeleteLogGroup,
#   autoscaling:DescribeAutoScalingGroups, autoscaling:DeleteAutoScalingGroup,
#   ec2:DescribeLaunchTemplates, ec2:DeleteLaunchTemplate, cloudwatch:DescribeAlarms,
#   cloudwatch:DeleteAlarms, cloudwatch:DeleteDashboards, ec2:DescribeInstances,
#   ec2:TerminateInstances,
#   ec2:DescribeVpcEndpoints, ec2:DeleteVpcEndpoints, ec2:DescribeSecurityGroups,
#   ec2:DeleteSecurityGroup, ssm:DeleteParameter, ecr:DeleteRepository, s3:ListBucket,
#   s3:GetBucketTagging, s3:DeleteObject, s3:DeleteBucket, s3:GetBucketCORS,
#   s3:PutBucketCORS (DeleteBucketCors too), dynamodb:DeleteTable,
#   sqs:GetQueueUrl, sqs:DeleteQueue,
#   iam:DeleteRolePolicy, iam:RemoveRoleFromInstanceProfile, iam:DeleteInstanceProfile,
#   iam:DeleteRole, sts:GetCallerIdentity
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# The values the steps record in config.env.
RECORDED=(QUEUE_URL DLQ_URL ROUTER_FAILURE_QUEUE_URL EVENTS_QUEUE_URL SERVER_URL ROUTER_ROLE_ARN
  SERVER_REPOSITORY_URI WORKER_REPOSITORY_URI ROUTER_SECURITY_GROUP_ID SERVER_SECURITY_GROUP_ID
  WORKER_SECURITY_GROUP_ID ROUTER_FUNCTION_ARN
  QUEUE_URL_HIGH QUEUE_URL_LOW WEBHOOK_QUEUE_URL WEBHOOK_DLQ_URL RESULT_EVENTS_QUEUE_URL
  JOBS_API_ROLE_ARN JOBS_TRACKER_ROLE_ARN JOBS_WEBHOOKS_ROLE_ARN JOBS_API_FUNCTION_ARN
  JOBS_TRACKER_FUNCTION_ARN JOBS_WEBHOOKS_FUNCTION_ARN JOBS_API_URL WORKER_WARM_POOL_REFUSED)
# The scheduler Lambda of deployments made before the worker group, with its schedule rule
# and role.
LEGACY_SCHEDULER_SUFFIX=scheduler
OURS=() # the filters that find the project's tagged EC2 resources (set once config is loaded)

delete_rule() {
  local rule=$1
  # DeleteRule succeeds for a rule that does not exist: look first.
  if ! aws_lookup ResourceNotFoundException events list-targets-by-rule --rule "$rule" \
    --query 'Targets[].Id' --output text; then
    unchanged "rule $rule is already gone"
    return 0
  fi
  if [[ -n $AWS_OUT ]]; then
    # shellcheck disable=SC2086 # target ids: tab-separated words, split on purpose
    aws_do events remove-targets --rule "$rule" --ids $AWS_OUT
  fi
  aws_delete "rule $rule" ResourceNotFoundException events delete-rule --name "$rule"
}

delete_function() {
  aws_delete "function $1" ResourceNotFoundException lambda delete-function --function-name "$1"
  aws_delete "log group /aws/lambda/$1" ResourceNotFoundException logs delete-log-group \
    --log-group-name "/aws/lambda/$1"
}

# The scheduler of deployments made before the worker group (rule, function, role).
delete_legacy_scheduler() {
  local name="$PROJECT_NAME-$LEGACY_SCHEDULER_SUFFIX"
  delete_rule "$name"
  delete_function "$name"
  delete_role "$name" "$LEGACY_SCHEDULER_SUFFIX"
}

# delete_event_source_mappings FUNCTION: its triggers (SQS) go first, so nothing invokes a
# function that is being deleted.
delete_event_source_mappings() {
  local uuid uuids
  if ! aws_lookup ResourceNotFoundException lambda list-event-source-mappings --function-name "$1" \
    --query 'EventSourceMappings[].UUID' --output text; then
    return 0 # no function, no triggers
  fi
  uuids=$AWS_OUT
  for uuid in $uuids; do
    aws_delete "trigger $uuid of function $1" ResourceNotFoundException lambda \
      delete-event-source-mapping --uuid "$uuid"
  done
}

# delete_jobs_tables: the jobs API's four tables (step-360), with everything in them.
delete_jobs_tables() {
  local table
  for table in jobs api-keys audit rates; do
    aws_delete "table $JOBS_TABLE_PREFIX-$table" ResourceNotFoundException dynamodb delete-table \
      --table-name "$JOBS_TABLE_PREFIX-$table"
  done
}

delete_instances() {
  aws_read ec2 describe-instances --filters "${OURS[@]}" \
    Name=instance-state-name,Values=pending,running,stopping,stopped,shutting-down \
    --query 'Reservations[].Instances[].InstanceId' --output text
  local ids
  read -r -a ids <<<"${AWS_OUT//$'\t'/ }"
  if ((${#ids[@]} == 0)); then
    unchanged "no instances of $PROJECT_NAME"
    return 0
  fi
  aws_do ec2 terminate-instances --instance-ids "${ids[@]}"
  aws_do ec2 wait instance-terminated --instance-ids "${ids[@]}"
  changed "terminated instances ${ids[*]}"
}

delete_network() {
  local ids id name group groups
  # shellcheck disable=SC2016 # backticks: JMESPath literals
  aws_read ec2 describe-vpc-endpoints --filters "${OURS[@]}" \
    --query 'VpcEndpoints[?State!=`deleted` && State!=`deleting`].VpcEndpointId' --output text
  read -r -a ids <<<"${AWS_OUT//$'\t'/ }"
  if ((${#ids[@]} > 0)); then
    aws_do ec2 delete-vpc-endpoints --vpc-endpoint-ids "${ids[@]}"
    changed "deleted VPC endpoints ${ids[*]}"
  fi
  aws_read ec2 describe-security-groups --filters "${OURS[@]}" \
    --query 'SecurityGroups[].[GroupName, GroupId]' --output text
  groups=$AWS_OUT
  if [[ -z $groups ]]; then
    unchanged "no security groups of $PROJECT_NAME"
  fi
  # The groups that others refer to go last.
  for name in "$SERVER_NAME" "$ENDPOINTS_NAME" "$WORKER_NAME" "$ROUTER_NAME"; do
    while read -r group id; do
      if [[ $group == "$name" ]]; then
        # AWS releases a deleted Lambda's network interfaces after a while.
        RETRY_ON=DependencyViolation RETRY_FOR=$DESTROY_WAIT_SECONDS \
          aws_delete "security group $name ($id)" InvalidGroup.NotFound ec2 delete-security-group --group-id "$id"
      fi
    done <<<"$groups"
  done
}

delete_bucket() {
  local bucket=$1
  if ! aws_lookup "404,NoSuchBucket" s3api head-bucket --bucket "$bucket"; then
    unchanged "bucket $bucket is already gone"
  elif ! bucket_created_by_steps "$bucket"; then
    log_info "kept bucket $bucket: it existed before step-030 (no ManagedBy tag)"
    remove_cors_rule "$bucket" "$(console_cors_rule_id)"
  elif [[ $KEEP_BUCKETS == true ]]; then
    log_info "kept bucket $bucket (--keep-buckets)"
    remove_cors_rule "$bucket" "$(console_cors_rule_id)"
  else
    aws_do s3 rb "s3://$bucket" --force
    changed "deleted bucket $bucket and its objects"
  fi
}

delete_queue() {
  if aws_lookup "$QUEUE_NOT_FOUND" sqs get-queue-url --queue-name "$1" --query QueueUrl --output text; then
    aws_delete "queue $1" "$QUEUE_NOT_FOUND" sqs delete-queue --queue-url "$AWS_OUT"
  else
    unchanged "queue $1 is already gone"
  fi
}

# delete_role NAME POLICY [INSTANCE_PROFILE]
delete_role() {
  local role=$1 policy=$2 profile=${3:-}
  local held
  if [[ -n $profile ]]; then
    if aws_lookup NoSuchEntity iam get-instance-profile --instance-profile-name "$profile" \
      --query 'InstanceProfile.Roles[].RoleName' --output text; then
      for held in $AWS_OUT; do
        aws_do iam remove-role-from-instance-profile --instance-profile-name "$profile" --role-name "$held"
      done
      aws_delete "instance profile $profile" NoSuchEntity iam delete-instance-profile --instance-profile-name "$profile"
    else
      unchanged "instance profile $profile is already gone"
    fi
  fi
  if ! aws_lookup NoSuchEntity iam get-role --role-name "$role" --query Role.RoleName --output text; then
    unchanged "role $role is already gone"
    return 0
  fi
  aws_delete "policy $policy of role $role" NoSuchEntity iam delete-role-policy --role-name "$role" --policy-name "$policy"
  aws_delete "role $role" NoSuchEntity iam delete-role --role-name "$role"
}

main() {
  local bucket name buckets=()
  KEEP_BUCKETS=false
  while (($#)); do
    case $1 in
      --yes | -y) export ASSUME_YES=1 ;;
      --keep-buckets) KEEP_BUCKETS=true ;;
      *) common_flag "$1" ;;
    esac
    shift
  done
  load_config
  load_account_id
  OURS=("Name=tag:Project,Values=$PROJECT_NAME" "Name=tag:ManagedBy,Values=transcription-router-scripts")
  buckets=("$AUDIO_BUCKET")
  if [[ $OUTPUT_BUCKET != "$AUDIO_BUCKET" ]]; then
    buckets+=("$OUTPUT_BUCKET")
  fi
  log_info "this deletes every resource of project $PROJECT_NAME in $AWS_REGION (account $ACCOUNT_ID${AWS_ENDPOINT_URL:+, endpoint $AWS_ENDPOINT_URL}): rules, Lambdas, the worker group with its launch template, alarms and dashboard, GPU instances, security groups, VPC endpoints, SSM parameters, ECR repositories and images, the jobs API's tables ($JOBS_TABLE_PREFIX-*) with every job and key, queues and their messages, roles"
  if [[ $KEEP_BUCKETS == false ]]; then
    log_info "and the bucket(s) ${buckets[*]} with ALL their objects, if step-030 created them"
  fi
  confirm "Delete all resources of $PROJECT_NAME?" || die "nothing deleted"

  delete_rule "$TRIGGER_RULE_NAME"
  delete_rule "$TRANSCRIBE_RULE_NAME"
  delete_rule "$JOB_RESULTS_RULE_NAME"
  delete_event_source_mappings "$JOBS_WEBHOOKS_NAME"
  aws_delete "function URL of $JOBS_API_NAME" ResourceNotFoundException lambda \
    delete-function-url-config --function-name "$JOBS_API_NAME"
  for name in "$ROUTER_NAME" "$JOBS_API_NAME" "$JOBS_TRACKER_NAME" "$JOBS_WEBHOOKS_NAME"; do
    delete_function "$name"
  done
  delete_legacy_scheduler
  delete_fleet
  delete_instances
  delete_network
  aws_delete "parameter $SERVER_URL_PARAMETER" ParameterNotFound ssm delete-parameter --name "$SERVER_URL_PARAMETER"
  aws_delete "parameter $API_KEYS_PARAMETER" ParameterNotFound ssm delete-parameter --name "$API_KEYS_PARAMETER"
  aws_delete "parameter $JOBS_ADMIN_KEY_PARAMETER" ParameterNotFound ssm delete-parameter \
    --name "$JOBS_ADMIN_KEY_PARAMETER"
  for name in "$SERVER_REPOSITORY_NAME" "$WORKER_REPOSITORY_NAME"; do
    aws_delete "repository $name" RepositoryNotFoundException ecr delete-repository --repository-name "$name" --force
  done
  for bucket in "${buckets[@]}"; do
    delete_bucket "$bucket"
  done
  delete_jobs_tables
  for name in "$JOBS_QUEUE_NAME" "$DLQ_NAME" "$ROUTER_FAILURES_NAME" "$EVENTS_QUEUE_NAME" \
    "$JOBS_HIGH_QUEUE_NAME" "$JOBS_LOW_QUEUE_NAME" "$WEBHOOK_QUEUE_NAME" "$WEBHOOK_DLQ_NAME" \
    "$RESULT_EVENTS_QUEUE_NAME"; do
    delete_queue "$name"
  done
  aws_delete "policy router-overflow of role $ROUTER_NAME" NoSuchEntity iam delete-role-policy \
    --role-name "$ROUTER_NAME" --policy-name router-overflow
  delete_role "$ROUTER_NAME" router
  delete_role "$JOBS_API_NAME" jobs-api
  delete_role "$JOBS_TRACKER_NAME" jobs-tracker
  delete_role "$JOBS_WEBHOOKS_NAME" jobs-webhooks
  delete_role "$SERVER_NAME" server "$SERVER_NAME"
  delete_role "$WORKER_NAME" worker "$WORKER_NAME"
  for name in "${RECORDED[@]}"; do
    if [[ -n ${!name:-} ]]; then
      set_config "$name" ""
    fi
  done
  log_info "done"
}

main "$@"
