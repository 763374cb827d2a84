#!/usr/bin/env bash
# The GPU worker fleet (sourced by common.sh): an EC2 Auto Scaling group of batch workers,
# its launch template, its termination lifecycle hook, its scaling policies and alarms, and
# the operations alarms and dashboard. The desired state of each is a JSON template under
# scripts/templates/; step-350, 351 and 380 apply it, step-352 checks it (CHECK_ONLY=1),
# step-999 deletes it.
#
# The decisions that are ours (the rest is AWS's engine):
# - capacity follows the backlog: target tracking keeps (visible jobs of the high, normal
#   and low queues) ÷ GroupInServiceInstances at JOBS_PER_WORKER; a step policy on an alarm
#   takes the group from 0 to ceil(visible jobs ÷ JOBS_PER_WORKER) at once (the expression
#   has no value with 0 in service); batch_worker/scaling.py states the same decision for
#   the bench and the tests, and derives that policy's step adjustments;
# - scale-in never kills a job: a busy worker protects itself from scale-in, an idle one
#   (IDLE_TIMEOUT_SECONDS) terminates itself with a decrement, and the lifecycle hook gives
#   a worker being taken away WORKER_LIFECYCLE_TIMEOUT_SECONDS to finish or hand back its job;
# - Spot first (price-capacity-optimized over WORKER_INSTANCE_TYPES, several subnets,
#   Capacity Rebalancing), WORKER_ON_DEMAND_BASE on-demand instances underneath.
# shellcheck disable=SC2034 # FLEET_*, ENSURED_* are read by the templates and the callers

# The metrics the group publishes (GroupInServiceInstances is the divisor of the backlog
# per worker; the others are on the dashboard).
FLEET_GROUP_METRICS=(GroupDesiredCapacity GroupInServiceInstances GroupPendingInstances
  GroupTerminatingInstances GroupTotalInstances)

# Names of the fleet's parts (called by derive_names: the worker policy names the group).
derive_fleet_names() {
  WORKER_GROUP_NAME="$PROJECT_NAME-workers"
  WORKER_TEMPLATE_NAME="$PROJECT_NAME-worker"
  WORKER_HOOK_NAME="$PROJECT_NAME-worker-terminating"
  WORKER_LAUNCH_HOOK_NAME="$PROJECT_NAME-worker-launching"
  DASHBOARD_NAME="$PROJECT_NAME"
  export WORKER_GROUP_NAME WORKER_TEMPLATE_NAME WORKER_HOOK_NAME WORKER_LAUNCH_HOOK_NAME DASHBOARD_NAME
}

# csv_json_list A,B,C KEY: [{"KEY":"A"},...] (one entry per non-empty item), or, with no
# KEY, ["A",...].
csv_json_list() {
  local item items=() key=${2:-}
  IFS=, read -r -a items <<<"$1"
  local out=()
  for item in "${items[@]}"; do
    item=${item// /}
    if [[ -n $item && -n $key ]]; then
      out+=("{\"$key\":\"$item\"}")
    elif [[ -n $item ]]; then
      out+=("\"$item\"")
    fi
  done
  printf '[%s]' "$(IFS=,; printf '%s' "${out[*]}")"
}

# The values the templates need beyond config.env and the derived names.
fleet_template_env() {
  local types=${WORKER_INSTANCE_TYPES// /}
  [[ -n $types ]] || die "WORKER_INSTANCE_TYPES is empty in $CONFIG_FILE: list the GPU instance types the workers may run on, e.g. g6.xlarge,g5.xlarge"
  [[ $MAX_WORKERS =~ ^[0-9]+$ ]] || die "MAX_WORKERS must be a whole number, got '$MAX_WORKERS'"
  [[ $JOBS_PER_WORKER =~ ^[1-9][0-9]*$ ]] || die "JOBS_PER_WORKER must be a whole number ≥ 1, got '$JOBS_PER_WORKER'"
  WARM_POOL_PREPARED=${WORKER_WARM_POOL_SIZE:-$MAX_WORKERS}
  if [[ -z ${WORKER_WARM_POOL_SIZE:-} && -n ${WORKER_WARM_POOL_REFUSED:-} ]]; then
    WARM_POOL_PREPARED=0 # the default pool, refused by AWS for this group (ensure_warm_pool)
  fi
  if [[ ! $WARM_POOL_PREPARED =~ ^[0-9]+$ ]] || ((WARM_POOL_PREPARED > MAX_WORKERS)); then
    die "WORKER_WARM_POOL_SIZE must be a whole number from 0 to MAX_WORKERS ($MAX_WORKERS) or empty (MAX_WORKERS), got '$WORKER_WARM_POOL_SIZE'"
  fi
  [[ $WORKER_ON_DEMAND_BASE =~ ^[0-9]+$ ]] || die "WORKER_ON_DEMAND_BASE must be a whole number, got '$WORKER_ON_DEMAND_BASE'"
  if [[ ! $WORKER_ON_DEMAND_PERCENTAGE =~ ^[0-9]+$ ]] || ((WORKER_ON_DEMAND_PERCENTAGE > 100)); then
    die "WORKER_ON_DEMAND_PERCENTAGE must be 0..100, got '$WORKER_ON_DEMAND_PERCENTAGE'"
  fi
  WORKER_OVERRIDES_JSON=$(csv_json_list "$types" InstanceType)
  ALARM_ACTIONS_JSON=$(csv_json_list "${ALARM_TOPIC_ARN:-}")
  export WORKER_OVERRIDES_JSON ALARM_ACTIONS_JSON WARM_POOL_PREPARED
}

# The subnets of the group: GPU_SUBNET_IDS (several zones: the group goes where capacity is),
# else GPU_SUBNET_ID, else the network's subnets.
fleet_subnets() {
  resolve_network
  FLEET_SUBNET_IDS=${GPU_SUBNET_IDS:-${GPU_SUBNET_ID:-$NETWORK_SUBNET_IDS}}
  FLEET_SUBNET_IDS=${FLEET_SUBNET_IDS// /}
  export FLEET_SUBNET_IDS
}

# worker_user_data OUT: the first-boot script of a worker (scripts/user-data/batch-worker.sh).
worker_user_data() {
  (
    use_gpu_engine_settings
    IMAGE_URI=$(image_uri "$WORKER_REPOSITORY_URI")
    # What the worker needs to manage its own lifecycle in the group.
    ASG_NAME=$WORKER_GROUP_NAME
    LIFECYCLE_HOOK_NAME=$WORKER_HOOK_NAME
    LAUNCH_HOOK_NAME=$WORKER_LAUNCH_HOOK_NAME
    # shellcheck disable=SC2031 # set for render_user_data in this subshell only
    CONTAINER_ENV=$(container_env "${WORKER_CONTAINER_ENV[@]}")
    # shellcheck disable=SC2086 # CONTAINER_ENV: space-separated names, split on purpose
    render_user_data "$SCRIPTS_DIR/user-data/batch-worker.sh" "$1" AWS_REGION IMAGE_URI \
      CONTAINER_ENV $CONTAINER_ENV
  )
}

# --- launch template and group (step-350) ------------------------------------------------
# ensure_launch_template: $WORKER_TEMPLATE_NAME holds the desired data as its latest version
# (the group launches $Latest); a difference adds a version.
ensure_launch_template() {
  local user_data want
  user_data=$(mktemp)
  worker_user_data "$user_data"
  WORKER_USER_DATA_BASE64=$(py "$LIB_DIR/digest.py" base64 "$user_data")
  rm -f "$user_data"
  resolve_gpu_ami
  export WORKER_USER_DATA_BASE64 RESOLVED_AMI_ID RESOLVED_ROOT_DEVICE
  want=$(render_template "$SCRIPTS_DIR/templates/worker-launch-template.json")
  if [[ -n ${KEY_NAME:-} ]]; then
    want=$(py "$LIB_DIR/json_tool.py" with-key "$want" KeyName "\"$KEY_NAME\"")
  fi
  # shellcheck disable=SC2016 # $Latest: the launch template version, not a variable
  if aws_lookup InvalidLaunchTemplateName.NotFoundException ec2 describe-launch-template-versions \
    --launch-template-name "$WORKER_TEMPLATE_NAME" --versions '$Latest' \
    --query 'LaunchTemplateVersions[0].LaunchTemplateData'; then
    reconcile "launch template $WORKER_TEMPLATE_NAME" "$AWS_OUT" "$want" \
      aws_do ec2 create-launch-template-version --launch-template-name "$WORKER_TEMPLATE_NAME" \
      --launch-template-data "$want" --version-description "step-350"
  else
    # Found by its name (step-999 too). Not tagged itself: moto copies a launch template's
    # own tags into its data, which then never matches the desired data.
    missing "launch template $WORKER_TEMPLATE_NAME" aws_do ec2 create-launch-template \
      --launch-template-name "$WORKER_TEMPLATE_NAME" --launch-template-data "$want"
  fi
}

# The group's tags, copied to every instance it launches (step-999 finds them by Project).
group_tags() {
  printf '[{"Key":"Name","Value":"%s","PropagateAtLaunch":true},{"Key":"%s","Value":"%s","PropagateAtLaunch":true},{"Key":"Project","Value":"%s","PropagateAtLaunch":true},{"Key":"ManagedBy","Value":"transcription-router-scripts","PropagateAtLaunch":true}]' \
    "$WORKER_NAME" "$WORKER_TAG_KEY" "$WORKER_TAG_VALUE" "$PROJECT_NAME"
}

# ensure_worker_group: the group as worker-group.json describes it. Its desired capacity
# belongs to the scaling policies: created at 0, never set here. Sets FOUND_GROUP (true when
# the group exists now) and FOUND_GROUP_METRICS.
ensure_worker_group() {
  local want create
  want=$(render_template "$SCRIPTS_DIR/templates/worker-group.json")
  aws_read autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$WORKER_GROUP_NAME" \
    --query 'AutoScalingGroups[0]'
  if [[ $AWS_OUT == null ]]; then
    create=$(py "$LIB_DIR/json_tool.py" with-key "$want" Tags "$(group_tags)")
    create=$(py "$LIB_DIR/json_tool.py" with-key "$create" DesiredCapacity 0)
    missing "Auto Scaling group $WORKER_GROUP_NAME" \
      aws_do autoscaling create-auto-scaling-group --cli-input-json "$create"
    FOUND_GROUP_METRICS=""
    FOUND_GROUP=false
    if ! is_check && ! is_dry_run; then
      FOUND_GROUP=true
    fi
  else
    FOUND_GROUP=true
    FOUND_GROUP_METRICS=$(py "$LIB_DIR/json_tool.py" pick "$AWS_OUT" EnabledMetrics)
    COMPARE=json_covers reconcile "Auto Scaling group $WORKER_GROUP_NAME" "$AWS_OUT" "$want" \
      aws_do autoscaling update-auto-scaling-group --cli-input-json "$want"
  fi
}

# ensure_group_metrics: the group publishes FLEET_GROUP_METRICS every minute (needs
# FOUND_GROUP_METRICS from ensure_worker_group).
ensure_group_metrics() {
  local metric lacking=()
  for metric in "${FLEET_GROUP_METRICS[@]}"; do
    if [[ $FOUND_GROUP_METRICS != *"\"$metric\""* ]]; then
      lacking+=("$metric")
    fi
  done
  if ((${#lacking[@]} == 0)); then
    unchanged "group metrics collection (${FLEET_GROUP_METRICS[*]})"
  elif is_check; then
    drift "group $WORKER_GROUP_NAME does not collect ${lacking[*]}"
  else
    aws_do autoscaling enable-metrics-collection --auto-scaling-group-name "$WORKER_GROUP_NAME" \
      --granularity 1Minute --metrics "${FLEET_GROUP_METRICS[@]}"
    changed "group $WORKER_GROUP_NAME collects ${lacking[*]}"
  fi
}

# ensure_lifecycle_hook NAME TRANSITION TIMEOUT: the hook NAME on autoscaling:TRANSITION
# (heartbeat timeout TIMEOUT seconds, then CONTINUE).
# - EC2_INSTANCE_TERMINATING: a worker being terminated waits in Terminating:Wait until it
#   completes the action (it finished or handed back its job);
# - EC2_INSTANCE_LAUNCHING: a new box, for the warm pool or for service, waits in
#   (Warmed:)Pending:Wait until its worker has loaded the model and completes the action, so
#   the group stops a warm pool box only once it is prepared, and counts a box in service
#   only once it can work.
ensure_lifecycle_hook() {
  local name=$1 transition=autoscaling:$2 timeout=$3 want put
  want=$(printf '{"LifecycleTransition":"%s","HeartbeatTimeout":%s,"DefaultResult":"CONTINUE"}' \
    "$transition" "$timeout")
  put=(aws_do autoscaling put-lifecycle-hook --auto-scaling-group-name "$WORKER_GROUP_NAME"
    --lifecycle-hook-name "$name" --lifecycle-transition "$transition"
    --heartbeat-timeout "$timeout" --default-result CONTINUE)
  aws_read autoscaling describe-lifecycle-hooks --auto-scaling-group-name "$WORKER_GROUP_NAME" \
    --lifecycle-hook-names "$name" --query 'LifecycleHooks[0]'
  if [[ $AWS_OUT == null ]]; then
    missing "lifecycle hook $name" "${put[@]}"
  else
    COMPARE=json_covers reconcile "lifecycle hook $name" "$AWS_OUT" "$want" "${put[@]}"
  fi
}

# ensure_warm_pool: a warm pool of stopped, initialized workers (image pulled, model loaded
# once, no GPU billed while stopped: EBS only) that start in about a minute instead of a
# cold boot; scaled-in workers go back to it (ReuseOnScaleIn). Its size is
# WARM_POOL_PREPARED (WORKER_WARM_POOL_SIZE, default MAX_WORKERS) minus the group's desired
# capacity (MaxGroupPreparedCapacity; MinSize 0). WORKER_WARM_POOL_SIZE=0: none.
ensure_warm_pool() {
  local want
  aws_read autoscaling describe-warm-pool --auto-scaling-group-name "$WORKER_GROUP_NAME" \
    --query WarmPoolConfiguration
  if ((WARM_POOL_PREPARED == 0)); then
    if [[ $AWS_OUT == null ]]; then
      unchanged "no warm pool (${WORKER_WARM_POOL_SIZE:+WORKER_WARM_POOL_SIZE=0}${WORKER_WARM_POOL_REFUSED:+refused by AWS: WORKER_WARM_POOL_REFUSED=$WORKER_WARM_POOL_REFUSED})"
    elif is_check; then
      drift "group $WORKER_GROUP_NAME has a warm pool, WORKER_WARM_POOL_SIZE is 0"
    else
      aws_do autoscaling delete-warm-pool --auto-scaling-group-name "$WORKER_GROUP_NAME" --force-delete
      changed "deleted the warm pool of $WORKER_GROUP_NAME"
    fi
    return 0
  fi
  want=$(printf '{"PoolState":"Stopped","MinSize":0,"MaxGroupPreparedCapacity":%s,"InstanceReusePolicy":{"ReuseOnScaleIn":true}}' \
    "$WARM_POOL_PREPARED")
  local put=(aws_do autoscaling put-warm-pool --auto-scaling-group-name "$WORKER_GROUP_NAME"
    --pool-state Stopped --min-size 0 --max-group-prepared-capacity "$WARM_POOL_PREPARED"
    --instance-reuse-policy ReuseOnScaleIn=true)
  if [[ $AWS_OUT == null && -z ${WORKER_WARM_POOL_SIZE:-} ]] && ! is_check; then
    put_default_warm_pool "${put[@]:1}"
  elif [[ $AWS_OUT == null ]]; then
    missing "warm pool of up to $WARM_POOL_PREPARED prepared workers for $WORKER_GROUP_NAME" "${put[@]}"
  else
    COMPARE=json_covers reconcile "warm pool of $WORKER_GROUP_NAME" "$AWS_OUT" "$want" "${put[@]}"
  fi
}

# put_default_warm_pool PUT_WARM_POOL_ARGS...: the default warm pool (WORKER_WARM_POOL_SIZE
#   empty) is asked for, not required. AWS has refused warm pools on groups with a mixed
#   instances policy or Spot (PutWarmPool's ValidationError); then the workers cold-boot, the
#   refusal is recorded as WORKER_WARM_POOL_REFUSED (so later runs and step-352 expect no
#   pool) and the step goes on. Clear it to ask again; a size set by hand is required.
put_default_warm_pool() {
  if aws_change ValidationError "$@"; then
    changed "created warm pool of up to $WARM_POOL_PREPARED prepared workers for $WORKER_GROUP_NAME"
    return 0
  fi
  log_warn "AWS refused a warm pool on $WORKER_GROUP_NAME (ValidationError: a Spot or mixed instances group?): workers cold-boot (bench/bench_fleet.py: more idle GPU time); recorded WORKER_WARM_POOL_REFUSED, clear it to ask again"
  set_config WORKER_WARM_POOL_REFUSED "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  WARM_POOL_PREPARED=0
}

# The desired state of step-350.
fleet_resources() {
  require_recorded WORKER_REPOSITORY_URI step-300-create-ecr-repositories.sh
  require_recorded WORKER_SECURITY_GROUP_ID step-310-create-network.sh
  require_recorded QUEUE_URL step-020-create-sqs-resources.sh
  fleet_template_env
  fleet_subnets
  ensure_launch_template
  ensure_worker_group
  if [[ $FOUND_GROUP == false ]]; then
    return 0 # no group (dry run, or validate): nothing to give metrics and a hook to
  fi
  ensure_group_metrics
  ensure_lifecycle_hook "$WORKER_HOOK_NAME" EC2_INSTANCE_TERMINATING "$WORKER_LIFECYCLE_TIMEOUT_SECONDS"
  ensure_lifecycle_hook "$WORKER_LAUNCH_HOOK_NAME" EC2_INSTANCE_LAUNCHING "$WORKER_LAUNCH_TIMEOUT_SECONDS"
  ensure_warm_pool
}

# --- scaling (step-351) ------------------------------------------------------------------
# ensure_scaling_policy TEMPLATE: the policy put-scaling-policy's input describes. Sets
# ENSURED_POLICY_ARN (empty when it does not exist and was not created).
ensure_scaling_policy() {
  local want name
  want=$(render_template "$1")
  name=$(py "$LIB_DIR/json_tool.py" pick "$want" PolicyName)
  aws_read autoscaling describe-policies --auto-scaling-group-name "$WORKER_GROUP_NAME" \
    --policy-names "$name" --query 'ScalingPolicies[0]'
  ENSURED_POLICY_ARN=""
  if [[ $AWS_OUT == null ]]; then
    missing "scaling policy $name" put_scaling_policy "$want"
  else
    ENSURED_POLICY_ARN=$(py "$LIB_DIR/json_tool.py" pick "$AWS_OUT" PolicyARN)
    COMPARE=json_covers reconcile "scaling policy $name" "$AWS_OUT" "$want" put_scaling_policy "$want"
  fi
}

# put_scaling_policy POLICY_JSON: put it, then read its ARN back (moto's answer to
# PutScalingPolicy names it PolicyArn where the API says PolicyARN, so the CLI sees none).
put_scaling_policy() {
  local name
  aws_do autoscaling put-scaling-policy --cli-input-json "$1"
  name=$(py "$LIB_DIR/json_tool.py" pick "$1" PolicyName)
  if ! is_dry_run; then
    aws_read autoscaling describe-policies --auto-scaling-group-name "$WORKER_GROUP_NAME" \
      --policy-names "$name" --query 'ScalingPolicies[0].PolicyARN' --output text
    ENSURED_POLICY_ARN=$AWS_OUT
  fi
}

# first_worker_steps: the first-worker policy's StepAdjustments for JOBS_PER_WORKER and
# MAX_WORKERS, as JSON: ExactCapacity c for c' × J + 1 ≤ visible jobs < c × J + 1 (the
# bounds are relative to the alarm's threshold, 0), the last step open-ended at
# MAX_WORKERS, coarser above 20 workers (AWS's limit of step adjustments a policy).
# batch_worker/scaling.py first_worker_steps derives them: the bench replays the same steps.
first_worker_steps() {
  PYTHONPATH="$ROOT_DIR${PYTHONPATH:+:$PYTHONPATH}" py -m batch_worker.scaling first-worker-steps \
    "$JOBS_PER_WORKER" "$MAX_WORKERS"
}

# first_worker_alarm [JOBS_PER_LAUNCHED]: the first worker's alarm, rendered
#   (FIRST_WORKER_POLICY_ARN: its action): visible jobs while no worker is in service and
#   more wait than the launched workers take, JOBS_PER_LAUNCHED (default JOBS_PER_WORKER)
#   each. 0: any job waiting with no worker in service (the no-worker operations alarm).
first_worker_alarm() {
  JOBS_PER_LAUNCHED_WORKER=${1:-$JOBS_PER_WORKER} \
    render_template "$SCRIPTS_DIR/templates/first-worker-alarm.json"
}

# The desired state of step-351.
scaling_resources() {
  fleet_template_env
  aws_read autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$WORKER_GROUP_NAME" \
    --query 'AutoScalingGroups[0].AutoScalingGroupName' --output text
  if [[ $AWS_OUT != "$WORKER_GROUP_NAME" ]]; then
    if is_check; then
      drift "Auto Scaling group $WORKER_GROUP_NAME does not exist: no scaling policies to check"
      return 0
    elif is_dry_run; then
      log_info "dry run: the Auto Scaling group $WORKER_GROUP_NAME does not exist yet (step-350), so neither do its policies"
      return 0
    fi
    die "Auto Scaling group $WORKER_GROUP_NAME does not exist: run scripts/step-350-create-batch-workers.sh first"
  fi
  ensure_scaling_policy "$SCRIPTS_DIR/templates/backlog-target-tracking.json"
  FIRST_WORKER_STEPS_JSON=$(first_worker_steps)
  export FIRST_WORKER_STEPS_JSON
  ensure_scaling_policy "$SCRIPTS_DIR/templates/first-worker-step.json"
  FIRST_WORKER_POLICY_ARN=$ENSURED_POLICY_ARN
  export FIRST_WORKER_POLICY_ARN
  ensure_alarm "$(first_worker_alarm)"
}

# --- operations alarms and dashboard (step-380) ------------------------------------------
# The operations alarms, one compact JSON per line (the no-worker alarm watches the same
# expression as the first worker's alarm, for longer).
operations_alarms() {
  local metrics
  metrics=$(FIRST_WORKER_POLICY_ARN="" first_worker_alarm 0)
  WAITING_WITH_NO_WORKER_METRICS=$(py "$LIB_DIR/json_tool.py" pick "$metrics" Metrics)
  export WAITING_WITH_NO_WORKER_METRICS
  py "$LIB_DIR/json_tool.py" items "$(render_template "$SCRIPTS_DIR/templates/alarms.json")"
}

operations_resources() {
  local alarm
  fleet_template_env
  while read -r alarm; do
    ensure_alarm "$alarm"
  done < <(operations_alarms)
  ensure_dashboard "$DASHBOARD_NAME" "$(render_template "$SCRIPTS_DIR/templates/dashboard.json")"
}

# --- destroy (step-999) -------------------------------------------------------------------
# The names of every alarm the steps create.
fleet_alarm_names() {
  local alarm
  while read -r alarm; do
    py "$LIB_DIR/json_tool.py" pick "$alarm" AlarmName
  done < <(FIRST_WORKER_POLICY_ARN="" first_worker_alarm; operations_alarms)
}

# delete_fleet: the group (force: its instances are terminated with it, lifecycle hooks
# skipped; its policies go with it), its launch template, the alarms and the dashboard.
delete_fleet() {
  local names=()
  aws_read autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$WORKER_GROUP_NAME" \
    --query 'AutoScalingGroups[0].AutoScalingGroupName' --output text
  if [[ $AWS_OUT == "$WORKER_GROUP_NAME" ]]; then
    aws_do autoscaling delete-auto-scaling-group --auto-scaling-group-name "$WORKER_GROUP_NAME" --force-delete
    wait_for "group $WORKER_GROUP_NAME to be deleted" "$DESTROY_WAIT_SECONDS" group_gone
    changed "deleted Auto Scaling group $WORKER_GROUP_NAME and its instances"
  else
    unchanged "Auto Scaling group $WORKER_GROUP_NAME is already gone"
  fi
  if aws_lookup InvalidLaunchTemplateName.NotFoundException ec2 describe-launch-templates \
    --launch-template-names "$WORKER_TEMPLATE_NAME"; then
    aws_delete "launch template $WORKER_TEMPLATE_NAME" InvalidLaunchTemplateName.NotFoundException \
      ec2 delete-launch-template --launch-template-name "$WORKER_TEMPLATE_NAME"
  else
    unchanged "launch template $WORKER_TEMPLATE_NAME is already gone"
  fi
  ALARM_ACTIONS_JSON="[]" # the names are all destroy needs of the alarm templates
  export ALARM_ACTIONS_JSON
  mapfile -t names < <(fleet_alarm_names)
  delete_alarms "${names[@]}"
  aws_delete "dashboard $DASHBOARD_NAME" ResourceNotFound cloudwatch delete-dashboards \
    --dashboard-names "$DASHBOARD_NAME"
}

group_gone() {
  aws_read autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$WORKER_GROUP_NAME" \
    --query 'AutoScalingGroups[0].AutoScalingGroupName' --output text
  [[ $AWS_OUT == None ]]
}
