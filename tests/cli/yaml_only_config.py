"""Celery settings of an app that cannot read swfbridge's JSON jobs."""

accept_content = ["yaml"]
