"""The changed-keys summary hub.deploy prints before an upgrade."""

from __future__ import annotations

from scripts.core.values_diff import MASK, changes, normalised, summary


def test_leaves_are_reported_by_path() -> None:
    before = {"cull": {"timeout": 86400, "every": 300}, "hub": {"x": 1}, "gone": True}
    after = {"cull": {"timeout": 3600, "every": 300}, "hub": {"x": 1, "y": [1]}}
    assert summary(changes(before, after)) == [
        "~ cull.timeout: 86400 → 3600",
        "- gone",
        "+ hub.y: [1]",
    ]


def test_lists_of_equal_length_compare_item_by_item() -> None:
    before = {"profiles": [{"slug": "a", "cpu": 2}, {"slug": "b", "cpu": 4}]}
    after = {"profiles": [{"slug": "a", "cpu": 2}, {"slug": "b", "cpu": 8}]}
    assert summary(changes(before, after)) == ["~ profiles[1].cpu: 4 → 8"]
    grown = {"profiles": [*after["profiles"], {"slug": "c"}]}
    assert [c.path for c in changes(after, grown)] == ["profiles"]


def test_secret_values_are_masked_wherever_they_sit() -> None:
    before = {"proxy": {"secretToken": "old-token-value"}, "hub": {"services": {}}}
    after = {
        "proxy": {"secretToken": "new-token-value"},
        "hub": {"services": {"metrics": {"api_token": "abc-token-123"}}},
    }
    text = "\n".join(summary(changes(before, after)))
    assert f"proxy.secretToken: {MASK} → {MASK}" in text
    assert f"+ hub.services.metrics: {MASK}" in text
    assert "token-value" not in text and "abc-token-123" not in text


def test_equal_values_have_no_changes_after_a_json_round_trip() -> None:
    values = {"a": (1, 2), "b": {"c": 0.05}}
    assert changes(normalised(values), normalised({"a": [1, 2], "b": {"c": 0.05}})) == []


def test_long_summaries_are_cut() -> None:
    before = {f"k{i:02}": i for i in range(20)}
    after = {f"k{i:02}": i + 1 for i in range(20)}
    lines = summary(changes(before, after), limit=5)
    assert len(lines) == 6
    assert lines[-1] == "… and 15 more"
