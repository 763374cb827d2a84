#!/usr/bin/env bash
# Network (sourced by common.sh): the VPC and subnets the router Lambda and the GPU instances
# use, their security groups, and the VPC endpoints a VPC Lambda needs to reach S3, SQS and
# SSM without a NAT gateway.
#
# The router Lambda runs in the VPC so that the server's security group can name it: the
# server's port is open to the router's security group (and to SERVER_ALLOWED_CIDR, if set),
# never to 0.0.0.0/0.
# shellcheck disable=SC2034 # ENSURED_*, FOUND_* and the like are read by the callers

# resolve_network: NETWORK_VPC_ID, NETWORK_SUBNET_IDS (comma-separated) and
# NETWORK_GPU_SUBNET_ID from VPC_ID, SUBNET_IDS and GPU_SUBNET_ID, or from the default VPC
# (its first two default subnets).
resolve_network() {
  NETWORK_VPC_ID=${VPC_ID:-}
  if [[ -z $NETWORK_VPC_ID ]]; then
    aws_read ec2 describe-vpcs --filters Name=is-default,Values=true --query 'Vpcs[0].VpcId' --output text
    [[ $AWS_OUT != None ]] || die "no default VPC in $AWS_REGION: set VPC_ID and SUBNET_IDS in $CONFIG_FILE"
    NETWORK_VPC_ID=$AWS_OUT
  fi
  NETWORK_SUBNET_IDS=${SUBNET_IDS:-}
  if [[ -z $NETWORK_SUBNET_IDS ]]; then
    aws_read ec2 describe-subnets --filters "Name=vpc-id,Values=$NETWORK_VPC_ID" Name=default-for-az,Values=true \
      --query 'sort_by(Subnets, &AvailabilityZone)[:2].SubnetId' --output text
    [[ -n $AWS_OUT ]] || die "no default subnets in $NETWORK_VPC_ID: set SUBNET_IDS in $CONFIG_FILE"
    NETWORK_SUBNET_IDS=${AWS_OUT//$'\t'/,}
  fi
  NETWORK_GPU_SUBNET_ID=${GPU_SUBNET_ID:-${NETWORK_SUBNET_IDS%%,*}}
}

# cidr_problem CIDR: why SERVER_ALLOWED_CIDR may not hold CIDR (not an IPv4 CIDR block, or
# wider than /SERVER_ALLOWED_CIDR_MIN_PREFIX); prints nothing when it may.
cidr_problem() { py "$LIB_DIR/cidr.py" "$1" "${SERVER_ALLOWED_CIDR_MIN_PREFIX:-16}"; }

# refuse_open_cidr CIDR: the server must never be open to the world, nor to most of it.
refuse_open_cidr() {
  local problem
  problem=$(cidr_problem "$1")
  [[ -z $problem ]] || die "$problem"
}

# load_groups NAME...: the project's security groups with these names, their ids and inbound
# rules, in one call (GROUPS_JSON).
load_groups() {
  local names
  names=$(IFS=,; printf '%s' "$*")
  aws_read ec2 describe-security-groups \
    --filters "Name=vpc-id,Values=$NETWORK_VPC_ID" "Name=group-name,Values=$names" \
    --query 'SecurityGroups[].{Name: GroupName, Id: GroupId, In: IpPermissions}'
  GROUPS_JSON=$AWS_OUT
}

# ensure_security_group NAME DESCRIPTION: sets ENSURED_GROUP_ID (empty when missing and not
# created) and ENSURED_GROUP_INGRESS (its inbound rules, JSON).
ensure_security_group() {
  local name=$1 description=$2
  ENSURED_GROUP_ID=$(py "$LIB_DIR/json_tool.py" select "$GROUPS_JSON" Name "$name" Id)
  ENSURED_GROUP_INGRESS="[]"
  if [[ -n $ENSURED_GROUP_ID ]]; then
    ENSURED_GROUP_INGRESS=$(py "$LIB_DIR/json_tool.py" select "$GROUPS_JSON" Name "$name" In)
    unchanged "security group $name ($ENSURED_GROUP_ID)"
  else
    missing "security group $name" create_security_group "$name" "$description"
  fi
}

create_security_group() {
  aws_do ec2 create-security-group --group-name "$1" --description "$2" --vpc-id "$NETWORK_VPC_ID" \
    --tag-specifications "ResourceType=security-group,Tags=[{Key=Name,Value=$1},{Key=Project,Value=$PROJECT_NAME},{Key=ManagedBy,Value=transcription-router-scripts}]" \
    --query GroupId --output text
  ENSURED_GROUP_ID=$AWS_OUT
}

# ensure_ingress NAME PERMISSIONS_JSON: exactly these inbound rules on the group that
# ensure_security_group NAME just found or created.
ensure_ingress() {
  local group=$ENSURED_GROUP_ID name=$1 want=$2 diff authorize revoke
  if [[ -z $group ]]; then
    return 0
  fi
  diff=$(py "$LIB_DIR/json_tool.py" ingress-diff "$ENSURED_GROUP_INGRESS" "$want")
  authorize=$(py "$LIB_DIR/json_tool.py" pick "$diff" authorize)
  revoke=$(py "$LIB_DIR/json_tool.py" pick "$diff" revoke)
  if [[ $authorize == "[]" && $revoke == "[]" ]]; then
    unchanged "security group $name inbound rules"
  elif is_check; then
    drift "security group $name inbound rules: missing $authorize, extra $revoke"
  else
    if [[ $authorize != "[]" ]]; then
      aws_do ec2 authorize-security-group-ingress --group-id "$group" --ip-permissions "$authorize"
      changed "security group $name allows $authorize"
    fi
    if [[ $revoke != "[]" ]]; then
      aws_do ec2 revoke-security-group-ingress --group-id "$group" --ip-permissions "$revoke"
      changed "security group $name no longer allows $revoke"
    fi
  fi
}

# load_endpoints: the VPC's endpoints (ENDPOINTS_JSON), in one call.
load_endpoints() {
  # shellcheck disable=SC2016 # backticks: JMESPath literals
  aws_read ec2 describe-vpc-endpoints --filters "Name=vpc-id,Values=$NETWORK_VPC_ID" \
    --query 'VpcEndpoints[?State!=`deleted` && State!=`deleting`].{Service: ServiceName, Id: VpcEndpointId}'
  ENDPOINTS_JSON=$AWS_OUT
}

# ensure_vpc_endpoint SERVICE Gateway|Interface: one endpoint for the service in the VPC (an
# endpoint made by someone else counts: a VPC has room for one with private DNS).
ensure_vpc_endpoint() {
  local service="com.amazonaws.$AWS_REGION.$1" type=$2 id
  id=$(py "$LIB_DIR/json_tool.py" select "$ENDPOINTS_JSON" Service "$service" Id)
  if [[ -n $id ]]; then
    unchanged "VPC endpoint for $1 ($id)"
  else
    missing "VPC endpoint for $1" create_vpc_endpoint "$service" "$type"
  fi
}

create_vpc_endpoint() {
  local service=$1 type=$2 tags args
  tags="ResourceType=vpc-endpoint,Tags=[{Key=Name,Value=$ENDPOINTS_NAME},{Key=Project,Value=$PROJECT_NAME},{Key=ManagedBy,Value=transcription-router-scripts}]"
  args=(ec2 create-vpc-endpoint --vpc-id "$NETWORK_VPC_ID" --service-name "$service"
    --vpc-endpoint-type "$type" --tag-specifications "$tags")
  if [[ $type == Gateway ]]; then
    aws_read ec2 describe-route-tables --filters "Name=vpc-id,Values=$NETWORK_VPC_ID" \
      --query 'RouteTables[].RouteTableId' --output text
    # shellcheck disable=SC2206 # route table ids: tab-separated words, split on purpose
    args+=(--route-table-ids $AWS_OUT)
  else
    # shellcheck disable=SC2206 # subnet ids: comma-separated words, split on purpose
    args+=(--subnet-ids ${NETWORK_SUBNET_IDS//,/ } --security-group-ids "$FOUND_ENDPOINTS_GROUP_ID" --private-dns-enabled)
  fi
  aws_do "${args[@]}"
}

# The desired network state: step-310 applies it, step-311 checks it. Sets
# FOUND_ROUTER_GROUP_ID, FOUND_SERVER_GROUP_ID, FOUND_WORKER_GROUP_ID and
# FOUND_ENDPOINTS_GROUP_ID.
network_resources() {
  local port=${PORT:-8000} want cidr
  resolve_network
  load_groups "$ROUTER_NAME" "$WORKER_NAME" "$SERVER_NAME" "$ENDPOINTS_NAME"
  ensure_security_group "$ROUTER_NAME" "Router Lambda of $PROJECT_NAME: no inbound traffic"
  FOUND_ROUTER_GROUP_ID=$ENSURED_GROUP_ID
  ensure_ingress "$ROUTER_NAME" "[]"
  ensure_security_group "$WORKER_NAME" "Batch workers of $PROJECT_NAME: no inbound traffic"
  FOUND_WORKER_GROUP_ID=$ENSURED_GROUP_ID
  ensure_ingress "$WORKER_NAME" "[]"
  ensure_security_group "$SERVER_NAME" "GPU server of $PROJECT_NAME: port $port from the router only"
  FOUND_SERVER_GROUP_ID=$ENSURED_GROUP_ID
  want="{\"IpProtocol\":\"tcp\",\"FromPort\":$port,\"ToPort\":$port,\"UserIdGroupPairs\":[{\"GroupId\":\"${FOUND_ROUTER_GROUP_ID:-router}\"}]}"
  for cidr in ${SERVER_ALLOWED_CIDR//,/ }; do
    refuse_open_cidr "$cidr"
    want+=",{\"IpProtocol\":\"tcp\",\"FromPort\":$port,\"ToPort\":$port,\"IpRanges\":[{\"CidrIp\":\"$cidr\"}]}"
  done
  ensure_ingress "$SERVER_NAME" "[$want]"
  FOUND_ENDPOINTS_GROUP_ID=""
  if [[ $CREATE_VPC_ENDPOINTS == true ]]; then
    ensure_security_group "$ENDPOINTS_NAME" "VPC endpoints of $PROJECT_NAME: HTTPS from the router"
    FOUND_ENDPOINTS_GROUP_ID=$ENSURED_GROUP_ID
    ensure_ingress "$ENDPOINTS_NAME" \
      "[{\"IpProtocol\":\"tcp\",\"FromPort\":443,\"ToPort\":443,\"UserIdGroupPairs\":[{\"GroupId\":\"${FOUND_ROUTER_GROUP_ID:-router}\"}]}]"
    load_endpoints
    ensure_vpc_endpoint s3 Gateway
    ensure_vpc_endpoint sqs Interface
    ensure_vpc_endpoint ssm Interface
  fi
}
