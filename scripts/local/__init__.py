"""A hub on a local kind cluster."""
