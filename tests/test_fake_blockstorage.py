"""The fake cloud's Cinder behind the real openstacksdk: what it answers and what it refuses."""

from __future__ import annotations

import pytest
from openstack import exceptions

from tests.support.fakecloud import FakeCloud


def test_detail_list_show_and_attachments(fake_cloud: FakeCloud) -> None:
    server = fake_cloud.add_server("node-1")
    attached = fake_cloud.add_volume("pvc-a", size=3, server_id=server["id"])
    fake_cloud.add_volume("pvc-b", metadata={"k": "v"})
    listed = {v.name: v for v in fake_cloud.conn.block_storage.volumes(details=True)}
    assert set(listed) == {"pvc-a", "pvc-b"}
    assert listed["pvc-a"].status == "in-use"
    assert listed["pvc-a"].size == 3
    assert [a["server_id"] for a in listed["pvc-a"].attachments] == [server["id"]]
    assert listed["pvc-b"].status == "available"
    assert listed["pvc-b"].metadata == {"k": "v"}
    shown = fake_cloud.conn.block_storage.get_volume(attached["id"])
    assert shown.attachments[0]["volume_id"] == attached["id"]
    paths = [(r.method, r.path) for r in fake_cloud.log if r.service == "cinder"]
    assert ("GET", "/v3/volumes/detail") in paths
    assert ("GET", f"/v3/volumes/{attached['id']}") in paths


def test_unknown_volume_is_item_not_found(fake_cloud: FakeCloud) -> None:
    with pytest.raises(exceptions.NotFoundException):
        fake_cloud.conn.block_storage.get_volume("00000000-0000-0000-0000-000000000000")
    (last,) = [r for r in fake_cloud.log if r.service == "cinder" and r.status == 404]
    assert last.path.endswith("/volumes/00000000-0000-0000-0000-000000000000")


def test_metadata_merges_and_refuses_long_values(fake_cloud: FakeCloud) -> None:
    vol = fake_cloud.add_volume("pvc-a", metadata={"a": "1"})
    fake_cloud.conn.block_storage.set_volume_metadata(vol["id"], b="2")
    assert fake_cloud.volumes[vol["id"]]["metadata"] == {"a": "1", "b": "2"}
    with pytest.raises(exceptions.BadRequestException):
        fake_cloud.conn.block_storage.set_volume_metadata(vol["id"], c="x" * 256)
    assert fake_cloud.volumes[vol["id"]]["metadata"] == {"a": "1", "b": "2"}


def test_seeding_refuses_a_status_cinder_does_not_have(fake_cloud: FakeCloud) -> None:
    with pytest.raises(ValueError, match="not a Cinder volume status"):
        fake_cloud.add_volume("pvc-a", status="attached")
