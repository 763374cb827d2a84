#!/usr/bin/env bash
# User data of a batch worker instance. step-350 puts the settings in front of this body as
# NAME=value lines: AWS_REGION, IMAGE_URI, WORKER_IDLE_SECONDS, CONTAINER_ENV (the names
# passed to the container) and each variable CONTAINER_ENV names.
#
# It runs once, at first boot, on the Deep Learning Base GPU AMI, and installs a systemd
# service that runs at every boot: it pulls the worker image from ECR, runs
# `python -m batch_worker --exit-when-idle WORKER_IDLE_SECONDS` with every GPU, and powers
# the instance off when the worker exits. The instance's shutdown behaviour is "stop", so the
# box stops (no GPU billed) until the scheduler Lambda starts it again on backlog.
set -o errexit -o nounset -o pipefail
: "${AWS_REGION:?}" "${IMAGE_URI:?}" "${CONTAINER_ENV:?}" "${WORKER_IDLE_SECONDS:?}"

umask 077
{
  for name in $CONTAINER_ENV; do
    printf '%s=%s\n' "$name" "${!name}"
  done
} >/etc/transcription-batch-worker.env

umask 022
{
  printf '#!/usr/bin/env bash\n'
  printf 'set -o errexit -o nounset -o pipefail\n'
  printf 'aws ecr get-login-password --region %q | docker login --username AWS --password-stdin %q\n' \
    "$AWS_REGION" "${IMAGE_URI%%/*}"
  printf 'docker pull %q\n' "$IMAGE_URI"
  printf 'exec docker run --rm --name transcription-batch-worker --gpus all --env-file %s %q --exit-when-idle %q\n' \
    /etc/transcription-batch-worker.env "$IMAGE_URI" "$WORKER_IDLE_SECONDS"
} >/usr/local/bin/transcription-batch-worker
chmod 0755 /usr/local/bin/transcription-batch-worker

cat >/etc/systemd/system/transcription-batch-worker.service <<'UNIT'
[Unit]
Description=Transcription batch worker: drain the jobs queue, then power the instance off
Wants=network-online.target
After=network-online.target docker.service
Requires=docker.service
SuccessAction=poweroff
FailureAction=poweroff

[Service]
Type=exec
ExecStart=/usr/local/bin/transcription-batch-worker
TimeoutStopSec=120

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable transcription-batch-worker.service
systemctl start --no-block transcription-batch-worker.service
