"""Celery settings (CELERY_CONFIG_MODULE) of the redelivery scenarios.

A visibility timeout well under the fault activities' 15 s start-to-close;
swfbridge's own defaults supply the sweep (every 5 s, every call).
"""

broker_transport_options = {"visibility_timeout": 3}
