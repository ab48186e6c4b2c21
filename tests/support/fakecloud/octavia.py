"""Load balancing (Octavia v2): load balancers, listeners, pools and members.

A load balancer that is not ``ACTIVE`` is immutable (409 on child changes or delete); deleting
one with listeners or pools needs ``cascade=true`` (else 400). A load balancer's VIP is a
Neutron port on the requested subnet or network.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, ClassVar

from tests.support.fakecloud.core import (
    PROJECT_ID,
    SEG,
    ApiError,
    Endpoint,
    Reply,
    Req,
    Route,
    route,
)
from tests.support.fakecloud.core import new_id as _new_id
from tests.support.fakecloud.neutron import Neutron

OCTAVIA = "https://octavia.fake.test"


class Octavia(Neutron):
    """Octavia: provisioning_status PENDING_* settles to ACTIVE/ERROR or the object is gone."""

    ENDPOINT = Endpoint(
        name="octavia",
        catalog_type="load-balancer",
        host="octavia.fake.test",
        prefixes=("/v2.0", "/v2"),
    )
    STORES: ClassVar[tuple[str, ...]] = ("load_balancers", "listeners", "pools", "members")
    FAILURE_KINDS: ClassVar[tuple[str, ...]] = ("load_balancer",)

    def setup(self) -> None:
        self.load_balancers: dict[str, dict[str, Any]] = {}
        self.listeners: dict[str, dict[str, Any]] = {}
        self.pools: dict[str, dict[str, Any]] = {}
        self.members: dict[str, dict[str, Any]] = {}

    def routes(self) -> list[Route]:
        seg = SEG
        r = route
        return [
            r("GET", r"/lbaas/loadbalancers", self._lb_list),
            r("POST", r"/lbaas/loadbalancers", self._lb_create),
            r("GET", rf"/lbaas/loadbalancers/{seg}", self._lb_get),
            r("PUT", rf"/lbaas/loadbalancers/{seg}", self._lb_update),
            r("DELETE", rf"/lbaas/loadbalancers/{seg}", self._lb_delete),
            r("GET", r"/lbaas/listeners", self._lis_list),
            r("POST", r"/lbaas/listeners", self._lis_create),
            r("GET", rf"/lbaas/listeners/{seg}", self._lis_get),
            r("DELETE", rf"/lbaas/listeners/{seg}", self._lis_delete),
            r("GET", r"/lbaas/pools", self._pool_list),
            r("POST", r"/lbaas/pools", self._pool_create),
            r("GET", rf"/lbaas/pools/{seg}", self._pool_get),
            r("DELETE", rf"/lbaas/pools/{seg}", self._pool_delete),
            r("GET", rf"/lbaas/pools/{seg}/members", self._mem_list),
            r("POST", rf"/lbaas/pools/{seg}/members", self._mem_create),
            r("GET", rf"/lbaas/pools/{seg}/members/{seg}", self._mem_get),
            r("DELETE", rf"/lbaas/pools/{seg}/members/{seg}", self._mem_delete),
        ]

    def error_body(self, e: ApiError) -> Any:
        return {
            "faultcode": "Client" if e.status < 500 else "Server",
            "faultstring": e.message,
            "debuginfo": None,
        }

    def _lb(self, ident: str) -> dict[str, Any]:
        if ident not in self.load_balancers:
            raise ApiError(404, f"Load Balancer {ident} not found.")
        return self.load_balancers[ident]

    def _lb_poll(self, lb_id: str) -> None:
        self._poll(("lb", lb_id))

    def _lb_mutable(self, lb: dict[str, Any]) -> None:
        if lb["provisioning_status"] != "ACTIVE":
            raise ApiError(409, f"Load Balancer {lb['id']} is immutable and cannot be updated.")

    def _lb_settle(self, lb_id: str, error: str | None = None) -> None:
        """Finish the pending operation on a load balancer and its children."""
        lb = self.load_balancers.get(lb_id)
        if lb is None:
            return
        if lb["provisioning_status"] == "PENDING_DELETE":
            self._lb_purge(lb)
            return
        for store in (self.listeners, self.pools, self.members):
            for child in list(store.values()):
                if child.get("_lb") != lb_id:
                    continue
                if child["provisioning_status"] == "PENDING_DELETE":
                    self._drop_child(store, child)
                elif child["provisioning_status"].startswith("PENDING"):
                    child["provisioning_status"] = "ACTIVE"
                    child["operating_status"] = "NO_MONITOR" if store is self.members else "ONLINE"
        if error:
            lb.update(provisioning_status="ERROR", operating_status="ERROR")
        else:
            lb.update(provisioning_status="ACTIVE", operating_status="ONLINE")
        lb["updated_at"] = self._ts()

    def _drop_child(self, store: dict[str, dict[str, Any]], child: dict[str, Any]) -> None:
        store.pop(child["id"], None)
        lb = self.load_balancers.get(child["_lb"])
        if store is self.listeners and lb:
            lb["listeners"] = [x for x in lb["listeners"] if x["id"] != child["id"]]
        if store is self.pools:
            if lb:
                lb["pools"] = [x for x in lb["pools"] if x["id"] != child["id"]]
            for listener in self.listeners.values():
                if listener["default_pool_id"] == child["id"]:
                    listener["default_pool_id"] = None
            for member in [m for m in self.members.values() if m["_pool"] == child["id"]]:
                self.members.pop(member["id"], None)
        if store is self.members and child["_pool"] in self.pools:
            pool = self.pools[child["_pool"]]
            pool["members"] = [x for x in pool["members"] if x["id"] != child["id"]]

    def _lb_purge(self, lb: dict[str, Any]) -> None:
        for store in (self.members, self.pools, self.listeners):
            for child in [c for c in store.values() if c.get("_lb") == lb["id"]]:
                store.pop(child["id"], None)
        port = self.ports.pop(lb["vip_port_id"], None)
        if port is not None:
            self._port_gone(port["id"])
        self.load_balancers.pop(lb["id"], None)

    @staticmethod
    def _public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}

    def add_load_balancer(
        self,
        name: str,
        *,
        description: str = "",
        vip_address: str | None = None,
        listeners: Iterable[tuple[str, int]] = (),
        members: Iterable[str] = (),
        member_port: int | None = None,
        provisioning_status: str = "ACTIVE",
    ) -> dict[str, Any]:
        """Seed an LB with one listener + pool per ``(protocol, port)`` and the ``members``
        addresses in every pool (port ``member_port`` or the listener's). No request logged."""
        lb = self._new_lb(
            {
                "name": name,
                "description": description,
                "vip_address": vip_address,
                "vip_subnet_id": self._subnet_named("private-subnet")["id"],
            }
        )
        lb.update(provisioning_status=provisioning_status, operating_status="ONLINE")
        member_list = list(members)
        for protocol, port in listeners:
            listener = self._new_listener(
                lb, {"protocol": protocol, "protocol_port": port, "name": f"{name}-{port}"}
            )
            pool = self._new_pool(
                lb,
                {
                    "protocol": protocol,
                    "lb_algorithm": "ROUND_ROBIN",
                    "listener_id": listener["id"],
                    "name": f"{name}-{port}",
                },
            )
            for address in member_list:
                self._new_member(pool, {"address": address, "protocol_port": member_port or port})
        for store in (self.listeners, self.pools, self.members):
            for child in store.values():
                if child["_lb"] == lb["id"]:
                    child["provisioning_status"] = "ACTIVE"
        return lb

    def _new_lb(self, body: dict[str, Any]) -> dict[str, Any]:
        subnet = None
        if body.get("vip_subnet_id"):
            subnet = self.subnets.get(body["vip_subnet_id"])
            if subnet is None:
                raise ApiError(
                    400, f"Validation failure: Subnet {body['vip_subnet_id']} not found."
                )
        elif body.get("vip_network_id"):
            net = self.networks.get(body["vip_network_id"])
            if net is None:
                raise ApiError(
                    400, f"Validation failure: Network {body['vip_network_id']} not found."
                )
            subnet = self.subnets[net["subnets"][0]]
        elif not body.get("vip_port_id"):
            raise ApiError(
                400,
                "Validation failure: VIP must contain one of: vip_port_id, "
                "vip_network_id, vip_subnet_id.",
            )
        ident = _new_id()
        if body.get("vip_port_id"):
            port = self.ports.get(body["vip_port_id"])
            if port is None:
                raise ApiError(400, f"Validation failure: Port {body['vip_port_id']} not found.")
        else:
            assert subnet is not None
            port = self._new_port(
                {
                    "name": f"octavia-lb-{ident}",
                    "network_id": subnet["network_id"],
                    "device_owner": "Octavia",
                    "device_id": f"lb-{ident}",
                    "ip_address": body.get("vip_address"),
                }
            )
        ip = port["fixed_ips"][0]
        lb = {
            "id": ident,
            "name": body.get("name", ""),
            "description": body.get("description", ""),
            "provisioning_status": "PENDING_CREATE",
            "operating_status": "OFFLINE",
            "admin_state_up": body.get("admin_state_up", True),
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "created_at": self._ts(),
            "updated_at": None,
            "vip_address": ip["ip_address"],
            "vip_port_id": port["id"],
            "vip_subnet_id": ip["subnet_id"],
            "vip_network_id": port["network_id"],
            "vip_qos_policy_id": None,
            "vip_sg_ids": None,
            "additional_vips": [],
            "listeners": [],
            "pools": [],
            "provider": body.get("provider") or "amphora",
            "flavor_id": body.get("flavor_id"),
            "availability_zone": None,
            "tags": body.get("tags", []),
        }
        self.load_balancers[ident] = lb
        return lb

    def _lb_list(self, req: Req) -> Reply:
        for lb_id in list(self.load_balancers):
            self._lb_poll(lb_id)
        items = self._filter(self.load_balancers.values(), req)
        return Reply(
            200, {"loadbalancers": [self._public(x) for x in items], "loadbalancers_links": []}
        )

    def _lb_get(self, req: Req, ident: str) -> Reply:
        self._lb(ident)
        self._lb_poll(ident)
        return Reply(200, {"loadbalancer": self._public(self._lb(ident))})

    def _lb_create(self, req: Req) -> Reply:
        body = (req.body or {}).get("loadbalancer") if isinstance(req.body, dict) else None
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input: missing 'loadbalancer'")
        lb = self._new_lb(body)
        reason = self._take_failure("load_balancer", lb["name"])
        self._schedule(("lb", lb["id"]), lambda: self._lb_settle(lb["id"], reason))
        return Reply(201, {"loadbalancer": self._public(lb)})

    def _lb_update(self, req: Req, ident: str) -> Reply:
        lb = self._lb(ident)
        self._lb_mutable(lb)
        body = (req.body or {}).get("loadbalancer", {}) if isinstance(req.body, dict) else {}
        for key in ("name", "description", "admin_state_up", "tags"):
            if key in body:
                lb[key] = body[key]
        lb["provisioning_status"] = "PENDING_UPDATE"
        self._schedule(("lb", lb["id"]), lambda: self._lb_settle(lb["id"]))
        return Reply(200, {"loadbalancer": self._public(lb)})

    def _lb_delete(self, req: Req, ident: str) -> Reply:
        lb = self._lb(ident)
        if lb["provisioning_status"] != "ERROR":
            self._lb_mutable(lb)
        cascade = (req.q("cascade") or "").lower() in {"true", "1", "yes"}
        if (lb["listeners"] or lb["pools"]) and not cascade:
            raise ApiError(400, f"Cannot delete Load Balancer {lb['id']} - it has children")
        lb["provisioning_status"] = "PENDING_DELETE"
        self._schedule(("lb", lb["id"]), lambda: self._lb_settle(lb["id"]))
        return Reply(204)

    def _child_lb(self, body: dict[str, Any]) -> dict[str, Any]:
        lb_id = body.get("loadbalancer_id")
        if not lb_id and body.get("listener_id") in self.listeners:
            lb_id = self.listeners[body["listener_id"]]["_lb"]
        if not lb_id:
            raise ApiError(400, "Validation failure: loadbalancer_id or listener_id is required.")
        return self._lb(lb_id)

    def _start_child_change(self, lb: dict[str, Any]) -> None:
        lb["provisioning_status"] = "PENDING_UPDATE"
        self._schedule(("lb", lb["id"]), lambda: self._lb_settle(lb["id"]))

    def _new_listener(self, lb: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        if any(
            x["protocol_port"] == body.get("protocol_port") and x["_lb"] == lb["id"]
            for x in self.listeners.values()
        ):
            raise ApiError(
                409,
                "Another Listener on this Load Balancer is already using "
                f"protocol_port {body.get('protocol_port')}",
            )
        ident = _new_id()
        listener = {
            "id": ident,
            "name": body.get("name", ""),
            "description": body.get("description", ""),
            "provisioning_status": "PENDING_CREATE",
            "operating_status": "OFFLINE",
            "admin_state_up": True,
            "protocol": body.get("protocol"),
            "protocol_port": body.get("protocol_port"),
            "connection_limit": -1,
            "default_tls_container_ref": None,
            "sni_container_refs": [],
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "default_pool_id": body.get("default_pool_id"),
            "l7policies": [],
            "insert_headers": {},
            "created_at": self._ts(),
            "updated_at": None,
            "loadbalancers": [{"id": lb["id"]}],
            "timeout_client_data": 50000,
            "timeout_member_connect": 5000,
            "timeout_member_data": 50000,
            "timeout_tcp_inspect": 0,
            "tags": [],
            "allowed_cidrs": body.get("allowed_cidrs"),
            "tls_ciphers": None,
            "tls_versions": None,
            "alpn_protocols": None,
            "_lb": lb["id"],
        }
        self.listeners[ident] = listener
        lb["listeners"].append({"id": ident})
        return listener

    def _lis_list(self, req: Req) -> Reply:
        for listener in list(self.listeners.values()):
            self._lb_poll(listener["_lb"])
        items = self._filter(self.listeners.values(), req)
        lb_id = req.q("loadbalancer_id")
        items = [x for x in items if lb_id is None or x["_lb"] == lb_id]
        return Reply(200, {"listeners": [self._public(x) for x in items], "listeners_links": []})

    def _lis_get(self, req: Req, ident: str) -> Reply:
        if ident not in self.listeners:
            raise ApiError(404, f"Listener {ident} not found.")
        self._lb_poll(self.listeners[ident]["_lb"])
        if ident not in self.listeners:
            raise ApiError(404, f"Listener {ident} not found.")
        return Reply(200, {"listener": self._public(self.listeners[ident])})

    def _lis_create(self, req: Req) -> Reply:
        body = (req.body or {}).get("listener") if isinstance(req.body, dict) else None
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input: missing 'listener'")
        lb = self._child_lb(body)
        self._lb_mutable(lb)
        listener = self._new_listener(lb, body)
        self._start_child_change(lb)
        return Reply(201, {"listener": self._public(listener)})

    def _lis_delete(self, req: Req, ident: str) -> Reply:
        if ident not in self.listeners:
            raise ApiError(404, f"Listener {ident} not found.")
        listener = self.listeners[ident]
        lb = self._lb(listener["_lb"])
        self._lb_mutable(lb)
        listener["provisioning_status"] = "PENDING_DELETE"
        self._start_child_change(lb)
        return Reply(204)

    def _new_pool(self, lb: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        ident = _new_id()
        listener_id = body.get("listener_id")
        pool = {
            "id": ident,
            "name": body.get("name", ""),
            "description": body.get("description", ""),
            "provisioning_status": "PENDING_CREATE",
            "operating_status": "OFFLINE",
            "admin_state_up": True,
            "protocol": body.get("protocol"),
            "lb_algorithm": body.get("lb_algorithm", "ROUND_ROBIN"),
            "session_persistence": None,
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "loadbalancers": [{"id": lb["id"]}],
            "listeners": [{"id": listener_id}] if listener_id else [],
            "members": [],
            "healthmonitor_id": None,
            "created_at": self._ts(),
            "updated_at": None,
            "tags": [],
            "tls_enabled": False,
            "tls_ciphers": None,
            "tls_versions": None,
            "alpn_protocols": None,
            "ca_tls_container_ref": None,
            "crl_container_ref": None,
            "_lb": lb["id"],
        }
        self.pools[ident] = pool
        lb["pools"].append({"id": ident})
        if listener_id in self.listeners:
            self.listeners[listener_id]["default_pool_id"] = ident
        return pool

    def _pool_list(self, req: Req) -> Reply:
        for pool in list(self.pools.values()):
            self._lb_poll(pool["_lb"])
        items = self._filter(self.pools.values(), req)
        lb_id = req.q("loadbalancer_id")
        items = [x for x in items if lb_id is None or x["_lb"] == lb_id]
        return Reply(200, {"pools": [self._public(x) for x in items], "pools_links": []})

    def _pool_get(self, req: Req, ident: str) -> Reply:
        if ident not in self.pools:
            raise ApiError(404, f"Pool {ident} not found.")
        self._lb_poll(self.pools[ident]["_lb"])
        if ident not in self.pools:
            raise ApiError(404, f"Pool {ident} not found.")
        return Reply(200, {"pool": self._public(self.pools[ident])})

    def _pool_create(self, req: Req) -> Reply:
        body = (req.body or {}).get("pool") if isinstance(req.body, dict) else None
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input: missing 'pool'")
        lb = self._child_lb(body)
        self._lb_mutable(lb)
        pool = self._new_pool(lb, body)
        self._start_child_change(lb)
        return Reply(201, {"pool": self._public(pool)})

    def _pool_delete(self, req: Req, ident: str) -> Reply:
        if ident not in self.pools:
            raise ApiError(404, f"Pool {ident} not found.")
        pool = self.pools[ident]
        lb = self._lb(pool["_lb"])
        self._lb_mutable(lb)
        pool["provisioning_status"] = "PENDING_DELETE"
        self._start_child_change(lb)
        return Reply(204)

    def _new_member(self, pool: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("address") or body.get("protocol_port") is None:
            raise ApiError(400, "Validation failure: address and protocol_port are required.")
        ident = _new_id()
        member = {
            "id": ident,
            "name": body.get("name", ""),
            "operating_status": "OFFLINE",
            "provisioning_status": "PENDING_CREATE",
            "admin_state_up": True,
            "address": body["address"],
            "protocol_port": body["protocol_port"],
            "weight": body.get("weight", 1),
            "backup": False,
            "subnet_id": body.get("subnet_id"),
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "created_at": self._ts(),
            "updated_at": None,
            "monitor_address": None,
            "monitor_port": None,
            "tags": [],
            "_lb": pool["_lb"],
            "_pool": pool["id"],
        }
        self.members[ident] = member
        pool["members"].append({"id": ident})
        return member

    def _pool(self, ident: str) -> dict[str, Any]:
        if ident not in self.pools:
            raise ApiError(404, f"Pool {ident} not found.")
        return self.pools[ident]

    def _mem_list(self, req: Req, pool_id: str) -> Reply:
        pool = self._pool(pool_id)
        self._lb_poll(pool["_lb"])
        items = self._filter((m for m in self.members.values() if m["_pool"] == pool_id), req)
        return Reply(200, {"members": [self._public(x) for x in items], "members_links": []})

    def _mem_get(self, req: Req, pool_id: str, ident: str) -> Reply:
        self._pool(pool_id)
        member = self.members.get(ident)
        if member is None or member["_pool"] != pool_id:
            raise ApiError(404, f"Member {ident} not found.")
        self._lb_poll(member["_lb"])
        return Reply(200, {"member": self._public(member)})

    def _mem_create(self, req: Req, pool_id: str) -> Reply:
        pool = self._pool(pool_id)
        body = (req.body or {}).get("member") if isinstance(req.body, dict) else None
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input: missing 'member'")
        lb = self._lb(pool["_lb"])
        self._lb_mutable(lb)
        member = self._new_member(pool, body)
        self._start_child_change(lb)
        return Reply(201, {"member": self._public(member)})

    def _mem_delete(self, req: Req, pool_id: str, ident: str) -> Reply:
        self._pool(pool_id)
        member = self.members.get(ident)
        if member is None or member["_pool"] != pool_id:
            raise ApiError(404, f"Member {ident} not found.")
        lb = self._lb(member["_lb"])
        self._lb_mutable(lb)
        member["provisioning_status"] = "PENDING_DELETE"
        self._start_child_change(lb)
        return Reply(204)
