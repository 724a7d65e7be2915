"""A private module under an allowed prefix: the worker must never import it."""


def touch() -> str:
    return "imported and ran"
