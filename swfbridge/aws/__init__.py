"""The AWS boundary: the one SWF client, its error vocabulary, retries and the
one code path that reports an outcome."""
