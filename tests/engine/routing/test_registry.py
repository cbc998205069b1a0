"""Routing definitions: the shipped default, a user's versions, errors naming the item."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.definitions import load_definitions
from engine.errors import ConfigurationError, RoutingDefinitionError
from engine.routing import RoutingRegistry, routing_from_mapping


def test_shipped_default_is_the_contracts() -> None:
    default = RoutingRegistry.shipped().latest()
    assert (default.name, default.version) == ("default", 1)
    high_value, everyone = default.rules
    assert (high_value.name, high_value.strategy, high_value.team) == (
        "high_value", "least_loaded", None)
    assert high_value.match is not None and high_value.match.segment == "high_value"
    assert (everyone.name, everyone.strategy, everyone.match, everyone.team) == (
        "everyone", "round_robin", None, None)


def write(folder: Path, name: str, text: str) -> Path:
    (folder / "routing").mkdir(parents=True, exist_ok=True)
    path = folder / "routing" / name
    path.write_text(text)
    return path


def test_a_users_new_version_is_the_latest(tmp_path: Path) -> None:
    write(tmp_path, "default.yaml", """
name: default
version: 2
rules:
  - name: east_team
    match: {territory: east, workflow: standard}
    team: east
    strategy: least_loaded
  - name: everyone
    strategy: round_robin
""")
    latest = load_definitions(tmp_path).routing.latest()
    assert latest.version == 2
    assert latest.rules[0].team == "east"
    assert latest.cursor_key("everyone") == "default@2/everyone"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("name: default\nversion: 2\nrules:\n  - name: a\n    strategy: random\n",
         "rule 'a'.strategy"),
        ("name: default\nversion: 2\nrules:\n  - {name: a, strategy: round_robin, "
         "match: {colour: red}}\n", "rule 'a'.match.colour"),
        ("name: default\nversion: 2\nrules:\n  - strategy: round_robin\n", "rule #1.name"),
        ("name: default\nversion: 2\nrules: []\n", "rules"),
        ("name: default\nversion: '2'\nrules:\n  - {name: a, strategy: round_robin}\n",
         "version"),
        ("name: default\nversion: 2\nrules:\n  - {name: a, strategy: round_robin}\n"
         "  - {name: a, strategy: least_loaded}\n", "'a' used more than once"),
        ("name: default\nversion: 2\nrules:\n  - {name: a, strategy: round_robin, team: ''}\n",
         "rule 'a'.team"),
        ("[1, 2]\n", "a mapping"),
        ("name: default\nversion: 2\nrules: [\n", "not valid YAML"),
        ("name: east\nversion: 1\nrules:\n  - {name: a, strategy: round_robin}\n",
         "routing 'east'"),
    ],
)
def test_invalid_routing_is_refused_naming_file_and_item(tmp_path: Path, text: str,
                                                         named: str) -> None:
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(RoutingDefinitionError) as caught:
        load_definitions(tmp_path)
    assert str(path) in str(caught.value)
    assert named in str(caught.value)
    assert isinstance(caught.value, ConfigurationError)


def test_a_changed_routing_needs_a_new_version() -> None:
    registry = RoutingRegistry.shipped()
    changed = routing_from_mapping({"name": "default", "version": 1, "rules": [
        {"name": "everyone", "strategy": "least_loaded"}]})
    with pytest.raises(RoutingDefinitionError, match="new version"):
        registry.add(changed, "mine.yaml")
    same = registry.latest()
    assert registry.add(same) is same  # identical re-add: nothing changes
