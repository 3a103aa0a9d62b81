"""Fault tests: real schedulers, workers and CLI runs as child processes (``processes``)."""
