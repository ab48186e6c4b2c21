"""hub.*: deploy JupyterHub, register admins, approve sign-ups, certificates, status."""
