"""Core built-in tasks: constants and collections."""
