"""Tests of the FastAPI server's parts in process, and helpers its integration tests share."""
