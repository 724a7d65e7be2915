"""Fixtures for the swfbridge.testing tests (the plugin's, made explicit here
so the suite runs whether or not swfbridge is installed)."""

from swfbridge.testing.pytest_plugin import local_swf, local_swf_server, swf_client

__all__ = ["local_swf", "local_swf_server", "swf_client"]
