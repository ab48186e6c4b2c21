"""OpenStack access: one connection from clouds.yaml, Magnum node groups, retries.

openstacksdk covers cluster templates, clusters, certificates, Octavia and
Neutron; it has no node groups, so those go through python-magnumclient on the
same keystoneauth session (one login, one token). Both SDKs are imported inside
the functions so `invoke --list` never pays for them.

`transient` decides what `core.waiting.retry` repeats: server errors, dropped
connections, the conflicts that pass by themselves (`PASSING_CONFLICTS`) and
"*_IN_PROGRESS" refusals. Everything else, invalid node counts (409) included, is
permanent and surfaces at once with the API's own message (`call`).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import BadInput, OperationFailed, Problem
from .waiting import Backoff, Clock, retry

if TYPE_CHECKING:
    from openstack.connection import Connection

    from .settings import Settings

T = TypeVar("T")

# Eight tries with doubling delays (capped at 20 s) ride out about a minute of
# flakiness; a cloud that is down for longer deserves an error, not a hang.
ATTEMPTS = 8
CLOUDS_YAML_PLACES = "./clouds.yaml, ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml"


def connect(settings: Settings) -> Connection:
    """A connection to the `cloud` entry of clouds.yaml; no request is made yet."""
    import openstack
    from openstack import exceptions
    from openstack.config import loader

    try:
        return openstack.connect(cloud=settings.cloud)
    except exceptions.ConfigException as error:
        try:
            known = sorted(loader.OpenStackConfig().get_cloud_names())
        except exceptions.ConfigException:
            known = []
        found = f"entries found: {', '.join(known)}" if known else "no clouds.yaml entries found"
        raise BadInput(
            Problem(
                "cloud",
                f"{settings.cloud!r} is not usable from clouds.yaml ({error}); {found}; "
                f"searched $OS_CLIENT_CONFIG_FILE, {CLOUDS_YAML_PLACES}",
            )
        ) from None


def magnum(connection: Connection, api_version: str = "latest") -> Any:
    """python-magnumclient on the connection's session, for node groups.

    Without an explicit api_version the client sends no OpenStack-API-Version
    header and Magnum answers as microversion 1.1, which has no node groups
    (they need 1.9); "latest" is what the `openstack coe` CLI sends. The
    cluster procedures pass the version they negotiated (cluster/magnum.py).
    """
    from magnumclient import client

    config = connection.config
    return client.Client(
        "1",
        session=connection.session,
        api_version=api_version,
        region_name=config.get_region_name("container-infra"),
        interface=config.get_interface("container-infra"),
    )


# ------------------------------------------------------------------ errors


def status_code(error: BaseException) -> int | None:
    """The HTTP status of an openstacksdk, magnumclient or keystoneauth error."""
    for attribute in ("status_code", "http_status"):
        value = getattr(error, attribute, None)
        if isinstance(value, int):
            return value
    response = getattr(error, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def api_message(error: BaseException) -> str:
    """What the API said, without the SDK's boilerplate around it."""
    code = status_code(error)
    response = getattr(error, "response", None)
    text = _body_detail(getattr(response, "text", None))
    for attribute in ("details", "message"):
        value = getattr(error, attribute, None)
        if not text and isinstance(value, str) and value.strip():
            text = _body_detail(value) or value.strip()
    text = text or str(error) or type(error).__name__
    return f"HTTP {code}: {text}" if code else text


def _body_detail(body: object) -> str:
    """The message inside an OpenStack error body, whichever service's shape it has."""
    if not isinstance(body, str) or not body.strip():
        return ""
    try:
        parsed = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(parsed, dict):
        return ""
    errors = parsed.get("errors")  # Magnum
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("detail") or errors[0].get("title") or "")
    if parsed.get("faultstring"):  # Octavia, magnumclient's legacy shape
        return str(parsed["faultstring"])
    if isinstance(parsed.get("message"), str):
        return str(parsed["message"])
    # Neutron {"NeutronError": {...}}, Nova {"itemNotFound": {...}}, Keystone {"error": {...}}
    for value in parsed.values():
        if isinstance(value, dict) and isinstance(value.get("message"), str):
            return str(value["message"])
    return ""


def is_not_found(error: BaseException) -> bool:
    from openstack import exceptions

    return isinstance(error, exceptions.NotFoundException) or status_code(error) == 404


def transient(error: BaseException) -> bool:
    """Worth another try: 5xx, 429, passing conflicts, connection resets and timeouts,
    a version discovery that found nothing."""
    from keystoneauth1 import exceptions as ksa
    from requests import exceptions as requests_errors

    if isinstance(
        error,
        ksa.ConnectFailure
        | ksa.ConnectTimeout
        | ksa.RetriableConnectionFailure
        | ksa.UnknownConnectionError
        | requests_errors.ConnectionError
        | requests_errors.Timeout
        | ConnectionError
        | TimeoutError
        | socket.timeout,
    ):
        return True
    if _discovery_found_nothing(error):
        return True
    code = status_code(error)
    if code is not None and (code >= 500 or code == 429):
        return True
    if code is None:
        return False
    message = api_message(error)
    if code == 409:
        # Most conflicts never pass: Magnum's NodeGroupInvalidInput (bad node counts) and
        # *AlreadyExists are 409 (openstack/magnum magnum/common/exception.py `Conflict`
        # subclasses, stable/2026.1 9f9c4b9f), and so are Neutron's address clashes.
        return any(passing in message for passing in PASSING_CONFLICTS)
    return "_IN_PROGRESS" in message


# The conflicts that go away by themselves, so are worth retrying:
# - Magnum's ClusterAPIAddressUnavailable, "Cluster API address is not available yet",
#   until the cluster is created (magnum/api/controllers/v1/nodegroup.py `post`);
# - Octavia's ImmutableObject, "... is immutable and cannot be updated", while a load
#   balancer is PENDING_* (openstack/octavia octavia/common/exceptions.py, code 409);
# - any refusal naming a *_IN_PROGRESS state.
PASSING_CONFLICTS = ("is not available yet", "immutable", "_IN_PROGRESS")


def _discovery_found_nothing(error: BaseException) -> bool:
    """openstacksdk's answer when version discovery got no version document.

    keystoneauth skips a discovery URL that answers an HTTP error or drops the
    connection (keystoneauth1 5.18 discover.py `_run_discovery`), and with none left
    openstacksdk raises NotSupported "... exists but does not have any supported
    versions" (openstack/service_description.py `_make_proxy`, openstacksdk 4.22).
    A load balancer's 502/503/504 on `GET /` ends the same way, so it is worth
    another try: the proxy is only cached once discovery succeeded.
    """
    from openstack import exceptions

    return isinstance(error, exceptions.NotSupported) and (
        "does not have any supported versions" in str(error)
    )


def _is_api_error(error: BaseException) -> bool:
    from keystoneauth1 import exceptions as ksa
    from magnumclient import exceptions as magnum_errors
    from openstack import exceptions as sdk_errors

    return isinstance(
        error,
        sdk_errors.SDKException
        | ksa.ClientException
        | magnum_errors.ClientException
        | ConnectionError
        | TimeoutError,
    )


def create_once(
    what: str,
    find: Callable[[], T | None],
    create: Callable[[], T],
    *,
    clock: Clock | None = None,
) -> T:
    """Create something exactly once, even when the create call itself is retried.

    A POST that timed out or answered 5xx may still have taken effect (and Magnum
    allows two clusters with one name), so every attempt after the first looks
    for the object before posting again.
    """
    attempts = 0

    def attempt() -> T:
        nonlocal attempts
        attempts += 1
        if attempts > 1:
            found = find()
            if found is not None:
                return found
        return create()

    return call(what, attempt, clock=clock)


def call(
    what: str,
    action: Callable[[], T],
    *,
    clock: Clock | None = None,
    remedy: str = "",
) -> T:
    """One cloud operation: transient failures retried, the rest one clear error.

    `action` should look before it creates: after a timed-out POST the retry
    then finds what the first attempt made instead of making a second one.
    """
    try:
        return retry(
            action,
            transient=transient,
            attempts=ATTEMPTS,
            backoff=Backoff(initial=1.0, factor=2.0, cap=20.0),
            clock=clock,
        )
    except OperationFailed:
        raise
    except Exception as error:
        if not _is_api_error(error):
            raise
        code = status_code(error)
        if code == 401:
            raise OperationFailed(
                f"OpenStack refused the credentials while trying to {what}: {api_message(error)}",
                "check the username/password or application credential of this cloud in "
                "clouds.yaml (or secure.yaml)",
            ) from None
        if code == 403:
            hint = "ask the cloud's operators for the role this needs, or use another project"
            raise OperationFailed(
                f"not allowed to {what}: {api_message(error)}", remedy or hint
            ) from None
        again = " (still failing after retries)" if transient(error) else ""
        raise OperationFailed(
            f"could not {what}{again}: {api_message(error)}",
            remedy or "fix the cause above and re-run; finished steps are not repeated",
        ) from None
