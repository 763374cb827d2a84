"""The always-on batch job API: jobs of many items, their tasks, progress, keys and webhooks.

It stands on the light core only (``transcription.layout``, ``job``, ``aws``, ``settings``,
``logging``, ``exceptions``): no engine, numpy or PyAV, so it runs as a small Lambda behind a
function URL while every GPU box is stopped. Its parts:

- ``store`` (jobs and tasks), ``keys`` (API keys), ``audit`` (audit log), all in DynamoDB
  through one adapter (``dynamo``) that names its conditional failures; ``tables`` holds
  their shapes;
- ``main`` and ``api/`` (the FastAPI app), ``submission`` (turning a request into tasks);
- ``tracker`` (result objects → task and job updates, each job completed once);
- ``webhooks/`` (URL validation and the signed, retried delivery);
- ``handler`` (the Lambda entry points).
"""
