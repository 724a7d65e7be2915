"""The ``swfbridge demo`` workflow: example activities, a tap on SWF traffic,
and the runner that wires a local SWF endpoint, a broker, a Celery worker, the
poller and a decider together."""
