#!/usr/bin/env bash
# DynamoDB (sourced by common.sh): the jobs API's tables, exactly as `python -m jobs_api
# tables` describes them (jobs_api/tables.py: keys, indexes, on-demand billing, TTL).
# shellcheck disable=SC2034 # TABLE_EXISTS is read by the callers

TABLE_NOT_FOUND=ResourceNotFoundException

# The tables' CreateTable arguments (plus "ttl"), as a JSON array: the jobs API's own
# description, so the deployed tables cannot drift from the code that uses them.
jobs_table_definitions() {
  require_recorded QUEUE_URL step-020-create-sqs-resources.sh # the jobs API's settings need it
  (cd "$ROOT_DIR" && py -m jobs_api tables)
}

# ensure_table DEFINITION_JSON: the table with these keys, indexes and billing mode, and its
# TTL when the definition names one. Keys and indexes cannot change in place: a table that
# exists with others stops the step (or is drift, for the validate step).
ensure_table() {
  local definition=$1 name ttl arguments want current
  name=$(py "$LIB_DIR/json_tool.py" pick "$definition" TableName)
  ttl=$(py "$LIB_DIR/json_tool.py" pick "$definition" ttl)
  arguments=$(py "$LIB_DIR/json_tool.py" without "$definition" ttl)
  want=$(py "$LIB_DIR/json_tool.py" table-shape "$arguments")
  TABLE_EXISTS=true
  if aws_lookup "$TABLE_NOT_FOUND" dynamodb describe-table --table-name "$name" --query Table; then
    current=$(py "$LIB_DIR/json_tool.py" table-shape "$AWS_OUT")
    if json_same "$current" "$want"; then
      unchanged "table $name"
    elif is_check; then
      drift "table $name is $current, want $want"
    else
      die "table $name exists with other keys, indexes or billing ($current; want $want): they cannot change in place — delete the table, or set another JOBS_TABLE_PREFIX"
    fi
  else
    missing "table $name" create_table "$name" "$arguments"
    if is_check || is_dry_run; then
      TABLE_EXISTS=false
    fi
  fi
  if [[ $TABLE_EXISTS == true && $ttl != null ]]; then
    ensure_ttl "$name" "$ttl"
  fi
}

create_table() {
  aws_do dynamodb create-table --cli-input-json "$2" --tags "$(project_tags_list)"
  aws_do dynamodb wait table-exists --table-name "$1"
}

# ensure_ttl TABLE ATTRIBUTE: DynamoDB deletes the table's items once ATTRIBUTE (epoch
# seconds) has passed.
ensure_ttl() {
  local name=$1 attribute=$2 current
  aws_read dynamodb describe-time-to-live --table-name "$name" \
    --query 'TimeToLiveDescription.[TimeToLiveStatus, AttributeName]' --output text
  current=${AWS_OUT/ENABLING/ENABLED}
  reconcile "table $name TTL" "${current//$'\t'/ }" "ENABLED $attribute" \
    aws_do dynamodb update-time-to-live --table-name "$name" \
    --time-to-live-specification "Enabled=true,AttributeName=$attribute"
}

# The desired DynamoDB state: step-360 applies it, step-361 checks it.
jobs_tables_resources() {
  local definitions definition
  definitions=$(jobs_table_definitions)
  while IFS= read -r definition; do
    ensure_table "$definition"
  done < <(py "$LIB_DIR/json_tool.py" items "$definitions")
}
