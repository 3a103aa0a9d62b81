"""Prefect 1's ``prefect.utilities`` paths, as thin re-exports (see ``utilities.tasks``)."""
