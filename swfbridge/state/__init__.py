"""Shared bridge state in Redis: capacity slots and attempt claims."""
