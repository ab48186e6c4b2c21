"""Shared core: settings, console, templates, manifests. Never imports a procedure."""
