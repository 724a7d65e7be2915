"""Everything the poller process runs: the poll loop, slots, dispatch to
Celery, timeouts, keepalive of queued jobs and the poller's metrics."""
