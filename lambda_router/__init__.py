"""The Lambda router: each uploaded audio object goes to the GPU server or the job queue.

``handler.lambda_handler`` parses the event (``events``), and for each object a
:class:`~lambda_router.router.Router` checks the guards and the transcript store, asks the
routing ``policy`` (size, circuit ``breaker``, cached ``health``), then calls the server
(``client``, bounded retries inside the Lambda's time budget) or puts the job on SQS
(``queue``). Only the light part of ``transcription`` is imported: no numpy, PyAV or
engines, so the deployment zip stays small and the cold start fast.
"""

__all__: list[str] = []
