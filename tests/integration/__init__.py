"""Integration tests on real Dask clusters (a package, so its conftest has a name of its own)."""
