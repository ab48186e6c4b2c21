"""The shared core. Importing it installs secret redaction for every log record and
uncaught traceback of the process (core.redaction.install), so no entry point and
no library's debug log can skip it."""

from .redaction import install as _install_redaction

_install_redaction()
