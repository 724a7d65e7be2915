"""Payloads over SWF's limits: the S3 claim-check."""
