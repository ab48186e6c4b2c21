"""The hub's certificates: Let's Encrypt retries, certificate status, a certificate you bring.

Procedures and their steps: docs/tls.md. Modules: tasks (the glue), retry (hub.ssl-retry
top to bottom), checks (release, address, DNS, port-80 and TLS checks), acme_log (what
traefik's log says about the order), autohttps (restarting the pod and watching the
order), ledger (attempts per week), cert_status, secret (hub.tls-secret), backup (the
certificate kept across an uninstall).
"""
