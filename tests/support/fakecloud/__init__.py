"""A stateful fake OpenStack cloud at the HTTP layer, behind the REAL SDKs.

``requests_mock`` intercepts every ``requests`` transport (keystoneauth, hence openstacksdk and
python-magnumclient, whatever Session they build) and a single matcher dispatches the requests
for the fake hosts to in-memory services, one module each:

=================  ==================================  =========================================
module             catalog endpoint                    served
=================  ==================================  =========================================
``identity``       https://keystone.fake.test/v3       discovery, ``POST /v3/auth/tokens``
``magnum``         https://magnum.fake.test/v1         clustertemplates, clusters (+ resize),
                                                       nodegroups, certificates
``octavia``        https://octavia.fake.test           loadbalancers, listeners, pools, members
``neutron``        https://neutron.fake.test           networks, subnets, ports, floatingips
``nova``           https://nova.fake.test/v2.1         flavors, servers
``dns``            https://designate.fake.test         zones, recordsets (Designate v2)
``blockstorage``   https://cinder.fake.test/v3         volumes (+ metadata) (Cinder v3)
=================  ==================================  =========================================

``core`` holds what every service shares: the transport, the request log
(:attr:`FakeCloud.log`), fault injection, the clock and pending transitions, the client
helpers (:attr:`FakeCloud.conn`, :meth:`FakeCloud.clouds_yaml`) and the service registry.

Requests to loopback hosts pass through to the real network (so real local components still
work while the fake is active); any other host is a ``ConnectionError``.

Time: transitions (``*_IN_PROGRESS`` → ``*_COMPLETE``/``*_FAILED``, Octavia ``PENDING_*`` →
``ACTIVE``/``ERROR``/gone) complete after :attr:`FakeCloud.settle_polls` GETs that return the
object (its own GET or a list including it) and/or :attr:`FakeCloud.settle_seconds` on
:attr:`FakeCloud.clock`; with both ``None`` nothing settles until :meth:`FakeCloud.settle_all`.

Each service module's docstring lists the upstream behaviours it follows; docs/testing.md has
the table of behaviours and their sources.

Adding a service (for example block storage or DNS)
---------------------------------------------------
1. Write ``tests/support/fakecloud/<service>.py`` with one class subclassing
   :class:`~tests.support.fakecloud.core.CloudCore` (or the service whose state it needs, as
   ``Octavia(Neutron)`` does for VIP ports). In its own class body declare:

   * ``ENDPOINT = Endpoint(name=..., catalog_type=..., host="<x>.fake.test", path="/v3",
     prefixes=("/v3",))``: the Keystone catalog entry (type, name, URL) and the version
     prefixes stripped before routing. This alone puts it in the token's catalog and routes
     its host to it.
   * ``STORES`` (its state dicts, for :meth:`FakeCloud.iter_state`) and ``FAILURE_KINDS``
     (what :meth:`FakeCloud.fail_next` may fail), if any.
   * the hooks it needs: ``setup()`` creates its state and seeds defaults; ``routes()``
     returns ``[route("GET", rf"/volumes/{SEG}", self._volume_get), ...]`` (paths relative
     to the prefix; a handler gets the :class:`Req` and the captured segments and returns a
     :class:`Reply` or raises :class:`ApiError`); ``negotiate(req)`` checks microversion
     headers and returns reply headers; ``error_body(e)`` formats errors the way the service
     does; ``version_document``/``root_document`` answer discovery. Hooks are looked up in
     the service's own class, so two services never shadow each other's.
   * a comment or docstring line citing the upstream file (repository, path, tag or commit)
     for every behaviour, and a row per behaviour in docs/testing.md.

2. Register it: add the class to :class:`FakeCloud`'s bases below (the one registration
   point; its position is the catalog order) and re-export what tests import from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fakecloud.blockstorage import CINDER, BlockStorage
from tests.support.fakecloud.core import (
    AUTH_URL,
    FAULT_KINDS,
    KEYSTONE,
    MUTATING,
    PASSWORD,
    PROJECT,
    PROJECT_ID,
    REGION,
    USER_ID,
    USERNAME,
    ApiError,
    CloudCore,
    Endpoint,
    FakeClock,
    FaultRule,
    LoggedRequest,
    Reply,
    Req,
    RequestLog,
    Route,
)
from tests.support.fakecloud.dns import DESIGNATE, Designate
from tests.support.fakecloud.identity import Identity
from tests.support.fakecloud.magnum import MAGNUM, MAGNUM_MAX, MAGNUM_MIN, Magnum
from tests.support.fakecloud.neutron import NEUTRON, Neutron
from tests.support.fakecloud.nova import NOVA, Nova
from tests.support.fakecloud.octavia import OCTAVIA, Octavia

__all__ = [
    "AUTH_URL",
    "CINDER",
    "DESIGNATE",
    "FAULT_KINDS",
    "KEYSTONE",
    "MAGNUM",
    "MAGNUM_MAX",
    "MAGNUM_MIN",
    "MUTATING",
    "NEUTRON",
    "NOVA",
    "OCTAVIA",
    "PASSWORD",
    "PROJECT",
    "PROJECT_ID",
    "REGION",
    "USERNAME",
    "USER_ID",
    "ApiError",
    "BlockStorage",
    "CloudCore",
    "Designate",
    "Endpoint",
    "FakeClock",
    "FakeCloud",
    "FaultRule",
    "LoggedRequest",
    "Reply",
    "Req",
    "RequestLog",
    "Route",
    "fake_cloud",
    "iter_state",
]


class FakeCloud(
    # The registered services, in catalog order (see "Adding a service" above).
    Identity,
    Magnum,
    Octavia,
    Neutron,
    Nova,
    Designate,
    BlockStorage,
):
    """In-memory Keystone, Magnum, Octavia, Neutron, Nova, Designate and Cinder (package
    docstring)."""


def iter_state(cloud: FakeCloud) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    """(name, store) for every state dict, e.g. for debugging dumps."""
    return cloud.iter_state()


@pytest.fixture
def fake_cloud() -> Iterator[FakeCloud]:
    """A fresh fake OpenStack cloud, active for the whole test (see the package docstring)."""
    cloud = FakeCloud().start()
    try:
        yield cloud
    finally:
        cloud.stop()
