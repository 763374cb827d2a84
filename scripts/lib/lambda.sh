#!/usr/bin/env bash
# Lambda, EventBridge and SSM (sourced by common.sh): functions with their configuration,
# reserved concurrency and asynchronous-invocation settings; rules, their targets and the
# permission that lets a rule invoke a function; SSM parameters.
# shellcheck disable=SC2034 # ENSURED_*, FOUND_* and the like are read by the callers

FUNCTION_NOT_FOUND=ResourceNotFoundException

# ensure_function NAME ROLE_ARN HANDLER ZIP TIMEOUT MEMORY ENVIRONMENT_JSON [SUBNETS GROUPS]:
# the function with this code (compared by CodeSha256) and configuration. SUBNETS is
# comma-separated; GROUPS one security group id. Sets ENSURED_FUNCTION_ARN (empty when it is
# missing and was not created) and FUNCTION_IS_NEW (true: it has no settings to look up yet).
ensure_function() {
  local name=$1 role=$2 handler=$3 zip=$4 timeout=$5 memory=$6 environment=$7
  local subnets=${8:-} groups=${9:-} sha want current query vpc=() update_vpc
  sha=$(py "$LIB_DIR/digest.py" sha256 "$zip")
  want=$(py "$LIB_DIR/json_tool.py" object Runtime="$LAMBDA_RUNTIME" Role="$role" Handler="$handler" \
    Timeout="$timeout" MemorySize="$memory" Subnets="$(sorted_csv "$subnets")" Groups="$groups")
  want=$(py "$LIB_DIR/json_tool.py" with-key "$want" Environment "$environment")
  # Out of the VPC on update: a router deployed SQS-only after running beside a server.
  update_vpc=(--vpc-config "SubnetIds=[],SecurityGroupIds=[]")
  if [[ -n $subnets ]]; then
    vpc=(--vpc-config "SubnetIds=$subnets,SecurityGroupIds=$groups")
    update_vpc=("${vpc[@]}")
  fi
  # shellcheck disable=SC2016 # backticks: JMESPath literals
  query='{Runtime: Runtime, Role: Role, Handler: Handler, Timeout: to_string(Timeout), MemorySize: to_string(MemorySize), Subnets: join(`","`, sort(VpcConfig.SubnetIds || `[]`)), Groups: join(`","`, sort(VpcConfig.SecurityGroupIds || `[]`)), Environment: Environment.Variables || `{}`, CodeSha256: CodeSha256, FunctionArn: FunctionArn}'
  ENSURED_FUNCTION_ARN=""
  FUNCTION_IS_NEW=false
  if ! aws_lookup "$FUNCTION_NOT_FOUND" lambda get-function-configuration --function-name "$name" --query "$query"; then
    missing "function $name" create_function "$name" "$role" "$handler" "$zip" "$timeout" "$memory" \
      "$environment" "${vpc[@]}"
    FUNCTION_IS_NEW=true
    return 0
  fi
  current=$AWS_OUT
  ENSURED_FUNCTION_ARN=$(py "$LIB_DIR/json_tool.py" pick "$current" FunctionArn)
  reconcile "function $name code" "$(py "$LIB_DIR/json_tool.py" pick "$current" CodeSha256)" "$sha" \
    update_function_code "$name" "$zip"
  current=$(py "$LIB_DIR/json_tool.py" without "$current" CodeSha256 FunctionArn)
  reconcile "function $name configuration" "$current" "$want" \
    update_function_configuration "$name" "$role" "$handler" "$timeout" "$memory" "$environment" "${update_vpc[@]}"
}

sorted_csv() { tr ',' '\n' <<<"$1" | sort | paste -sd, -; }

create_function() {
  local name=$1 role=$2 handler=$3 zip=$4 timeout=$5 memory=$6 environment=$7
  shift 7
  # A new role takes a few seconds before Lambda may assume it.
  RETRY_ON=InvalidParameterValueException RETRY_FOR=90 aws_do lambda create-function \
    --function-name "$name" --runtime "$LAMBDA_RUNTIME" --role "$role" --handler "$handler" \
    --zip-file "fileb://$zip" --timeout "$timeout" --memory-size "$memory" \
    --environment "{\"Variables\":$environment}" --architectures x86_64 \
    --tags "$(project_tags_kv)" "$@" --query FunctionArn --output text
  ENSURED_FUNCTION_ARN=$AWS_OUT
  aws_do lambda wait function-active-v2 --function-name "$name"
}

update_function_code() {
  aws_do lambda update-function-code --function-name "$1" --zip-file "fileb://$2"
  aws_do lambda wait function-updated-v2 --function-name "$1"
}

update_function_configuration() {
  local name=$1 role=$2 handler=$3 timeout=$4 memory=$5 environment=$6
  shift 6
  RETRY_ON=InvalidParameterValueException RETRY_FOR=90 aws_do lambda update-function-configuration \
    --function-name "$name" --runtime "$LAMBDA_RUNTIME" --role "$role" --handler "$handler" \
    --timeout "$timeout" --memory-size "$memory" --environment "{\"Variables\":$environment}" "$@"
  aws_do lambda wait function-updated-v2 --function-name "$name"
}

# ensure_reserved_concurrency NAME N
ensure_reserved_concurrency() {
  AWS_OUT=""
  if [[ $FUNCTION_IS_NEW == false ]]; then
    aws_lookup "$FUNCTION_NOT_FOUND" lambda get-function-concurrency --function-name "$1" \
      --query ReservedConcurrentExecutions --output text || AWS_OUT=""
  fi
  reconcile "function $1 reserved concurrency" "$AWS_OUT" "$2" \
    aws_do lambda put-function-concurrency --function-name "$1" --reserved-concurrent-executions "$2"
}

# ensure_async_config NAME ON_FAILURE_ARN RETRIES MAX_AGE: retries of asynchronous invocations
# (EventBridge invokes asynchronously) and where an event goes when they are used up.
ensure_async_config() {
  local name=$1 destination=$2 retries=$3 age=$4 want
  want=$(json_obj MaximumRetryAttempts="$retries" MaximumEventAgeInSeconds="$age" OnFailure="$destination")
  AWS_OUT=""
  if [[ $FUNCTION_IS_NEW == false ]]; then
    aws_lookup "$FUNCTION_NOT_FOUND" lambda get-function-event-invoke-config --function-name "$name" \
      --query '{MaximumRetryAttempts: MaximumRetryAttempts, MaximumEventAgeInSeconds: MaximumEventAgeInSeconds, OnFailure: DestinationConfig.OnFailure.Destination}' ||
      AWS_OUT=""
  fi
  reconcile "function $name asynchronous invocation (retries, on-failure destination)" "$AWS_OUT" "$want" \
    aws_do lambda put-function-event-invoke-config --function-name "$name" \
    --maximum-retry-attempts "$retries" --maximum-event-age-in-seconds "$age" \
    --destination-config "{\"OnFailure\":{\"Destination\":\"$destination\"}}"
}

# ensure_rule NAME --event-pattern JSON | --schedule-expression EXPR, DESCRIPTION: an enabled
# rule on the default bus. Sets ENSURED_RULE_ARN and RULE_IS_NEW (true: it has no targets).
ensure_rule() {
  local name=$1 kind=$2 value=$3 description=$4 want key
  case $kind in
    --event-pattern) key=EventPattern ;;
    --schedule-expression) key=ScheduleExpression ;;
    *) die "ensure_rule: unknown kind $kind" ;;
  esac
  want=$(json_obj "$key=$value" State=ENABLED)
  ENSURED_RULE_ARN="arn:$PARTITION:events:$AWS_REGION:$ACCOUNT_ID:rule/$name"
  RULE_IS_NEW=false
  if aws_lookup ResourceNotFoundException events describe-rule --name "$name" \
    --query "{$key: $key, State: State}"; then
    reconcile "rule $name" "$AWS_OUT" "$want" \
      aws_do events put-rule --name "$name" "$kind" "$value" --state ENABLED --description "$description"
  else
    missing "rule $name" aws_do events put-rule --name "$name" "$kind" "$value" --state ENABLED \
      --description "$description" --tags "$(project_tags_list)"
    RULE_IS_NEW=true
  fi
}

# ensure_targets RULE TARGETS_JSON: exactly these targets ([{"Id": …, "Arn": …}], or []).
ensure_targets() {
  local rule=$1 want=$2 extra
  AWS_OUT="[]"
  if [[ $RULE_IS_NEW == false ]]; then
    aws_lookup ResourceNotFoundException events list-targets-by-rule --rule "$rule" \
      --query 'Targets[].{Id: Id, Arn: Arn}' || AWS_OUT="[]"
  fi
  if [[ $AWS_OUT == null || -z $AWS_OUT ]]; then
    AWS_OUT="[]"
  fi
  extra=$(py "$LIB_DIR/json_tool.py" extra-ids "$AWS_OUT" "$want")
  reconcile "targets of rule $rule" "$AWS_OUT" "$want" replace_targets "$rule" "$want" "$extra"
}

replace_targets() {
  local rule=$1 want=$2 extra=$3
  if [[ -n $extra ]]; then
    # shellcheck disable=SC2086 # target ids: space-separated words, split on purpose
    aws_do events remove-targets --rule "$rule" --ids $extra
  fi
  if [[ $want != "[]" ]]; then
    aws_do events put-targets --rule "$rule" --targets "$want"
  fi
}

# ensure_invoke_permission FUNCTION STATEMENT_ID RULE_ARN: EventBridge may invoke FUNCTION
# for this rule only.
ensure_invoke_permission() {
  local name=$1 sid=$2 source=$3 current=""
  if aws_lookup "$FUNCTION_NOT_FOUND" lambda get-policy --function-name "$name" --query Policy --output text; then
    current=$(py "$LIB_DIR/json_tool.py" statement-source "$AWS_OUT" "$sid")
  fi
  reconcile "permission $sid on function $name" "$current" "$source" \
    replace_invoke_permission "$name" "$sid" "$source" "$current"
}

replace_invoke_permission() {
  if [[ -n $4 ]]; then
    aws_do lambda remove-permission --function-name "$1" --statement-id "$2"
  fi
  aws_do lambda add-permission --function-name "$1" --statement-id "$2" --action lambda:InvokeFunction \
    --principal events.amazonaws.com --source-arn "$3" --source-account "$ACCOUNT_ID"
}

# ensure_parameter NAME String|SecureString VALUE DESCRIPTION: an SSM parameter. Values of
# SecureString parameters never appear in the log.
ensure_parameter() {
  local name=$1 type=$2 value=$3 description=$4 current_type current_value
  if aws_lookup ParameterNotFound ssm get-parameter --name "$name" --with-decryption \
    --query 'Parameter.[Type, Value]' --output text; then
    current_type=${AWS_OUT%%$'\t'*}
    current_value=${AWS_OUT#*$'\t'}
    if [[ $current_type == "$type" && $current_value == "$value" ]]; then
      unchanged "parameter $name"
    elif is_check; then
      drift "parameter $name differs from config.env ($current_type)"
    else
      aws_do ssm put-parameter --name "$name" --type "$type" --value="$value" --overwrite \
        --description "$description"
      changed "parameter $name"
    fi
  else
    missing "parameter $name" aws_do ssm put-parameter --name "$name" --type "$type" --value="$value" \
      --description "$description" --tags "$(project_tags_list)"
  fi
}
