"""Everything a Celery worker runs: the bridge's Celery tasks, the executor,
interrupts, heartbeats, relays of mapped tasks, broker checks, metrics."""
