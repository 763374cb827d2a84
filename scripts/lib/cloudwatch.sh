#!/usr/bin/env bash
# CloudWatch (sourced by common.sh): alarms and the dashboard, each from a JSON template under
# scripts/templates/ (the input of put-metric-alarm / the dashboard body), rendered like the
# policies (render_template: ${NAME} placeholders from the environment).
# shellcheck disable=SC2034 # ENSURED_* are read by the callers

# ensure_alarm ALARM_JSON: the alarm as put-metric-alarm's input describes it. CloudWatch
# adds read-only fields (state, ARN, timestamps) and does not describe tags: the alarm
# matches when it holds every value the template sets, tags aside.
ensure_alarm() {
  local alarm=$1 name want
  name=$(py "$LIB_DIR/json_tool.py" pick "$alarm" AlarmName)
  want=$(py "$LIB_DIR/json_tool.py" without "$alarm" Tags)
  aws_read cloudwatch describe-alarms --alarm-names "$name" --query 'MetricAlarms[0]'
  if [[ $AWS_OUT == null ]]; then
    missing "alarm $name" put_alarm "$alarm"
  else
    COMPARE=json_covers reconcile "alarm $name" "$AWS_OUT" "$want" put_alarm "$alarm"
  fi
}

put_alarm() {
  aws_do cloudwatch put-metric-alarm --cli-input-json \
    "$(py "$LIB_DIR/json_tool.py" with-key "$1" Tags "$(project_tags_list)")"
}

# ensure_dashboard NAME BODY_JSON
ensure_dashboard() {
  local name=$1 body=$2
  if aws_lookup ResourceNotFound cloudwatch get-dashboard --dashboard-name "$name" \
    --query DashboardBody --output text; then
    reconcile "dashboard $name" "$AWS_OUT" "$body" \
      aws_do cloudwatch put-dashboard --dashboard-name "$name" --dashboard-body "$body"
  else
    missing "dashboard $name" aws_do cloudwatch put-dashboard --dashboard-name "$name" \
      --dashboard-body "$body"
  fi
}

# delete_alarms NAME...: the ones that exist (DeleteAlarms fails on a name it does not know).
delete_alarms() {
  local name
  for name in "$@"; do
    aws_read cloudwatch describe-alarms --alarm-names "$name" --query 'MetricAlarms[0].AlarmName' \
      --output text
    if [[ $AWS_OUT == "$name" ]]; then
      aws_do cloudwatch delete-alarms --alarm-names "$name"
      changed "deleted alarm $name"
    else
      unchanged "alarm $name is already gone"
    fi
  done
}
