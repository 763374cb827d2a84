"""Transcribe a file with the official OpenAI client pointed at this project's server.

    SERVER_URL=http://127.0.0.1:8000 API_KEY=... python examples/openai_client.py talk.wav

The README shows this file; the end-to-end tests run it against the local stack.
"""

import os
import sys

from openai import OpenAI

client = OpenAI(base_url=f"{os.environ['SERVER_URL']}/v1", api_key=os.environ["API_KEY"])

with open(sys.argv[1], "rb") as audio:
    result = client.audio.transcriptions.create(
        model="tiny.en",
        file=audio,
        response_format="verbose_json",
        timestamp_granularities=["word"],
    )

print(result.text)
for word in result.words or []:
    print(f"{word.start:6.2f} {word.end:6.2f}  {word.word}")
