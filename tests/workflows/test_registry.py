"""The registry: shipped definitions, user files and directories, versions compiled once."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.errors import WorkflowDefinitionError
from tests.workflows.helpers import shipped_data, stage_of
from workflows import WorkflowRegistry


def write(folder: Path, name: str, data: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def standard_v2() -> dict[str, Any]:
    data = shipped_data("standard")
    data["version"] = 2
    stage_of(data, "quote")["probability"] = "0.65"
    return data


def test_shipped() -> None:
    registry = WorkflowRegistry.shipped()
    assert registry.names() == ("channel", "standard")
    assert len(registry) == 2
    assert [(wf.name, wf.version) for wf in registry] == [("channel", 1), ("standard", 1)]


def test_each_version_is_compiled_once() -> None:
    registry = WorkflowRegistry.shipped()
    first = registry.get("standard")
    assert registry.get("standard", 1) is first
    assert registry.get("standard").machine is first.machine


def test_latest_version_by_default(tmp_path: Path) -> None:
    registry = WorkflowRegistry.shipped()
    loaded = registry.load_file(write(tmp_path, "standard-v2.yaml", standard_v2()))
    assert (loaded.name, loaded.version) == ("standard", 2)
    assert registry.get("standard") is loaded
    assert registry.get("standard", 1).probability("quote") == Decimal("0.60")
    assert str(registry.get("standard").probability("quote")) == "0.65"
    assert registry.versions("standard") == (1, 2)


def test_load_dir_reads_yaml_files_only(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", standard_v2())
    custom = shipped_data("channel")
    custom["name"] = "partner-lite"
    write(tmp_path, "b.yml", custom)
    (tmp_path / "notes.txt").write_text("not a workflow", encoding="utf-8")
    registry = WorkflowRegistry.shipped()
    loaded = registry.load_dir(tmp_path)
    assert [(wf.name, wf.version) for wf in loaded] == [("standard", 2), ("partner-lite", 1)]
    assert registry.names() == ("channel", "partner-lite", "standard")


def test_an_identical_redefinition_is_a_no_op(tmp_path: Path) -> None:
    registry = WorkflowRegistry.shipped()
    shipped = registry.get("standard")
    assert registry.load_file(write(tmp_path, "same.yaml", shipped_data("standard"))) is shipped


def test_a_changed_definition_needs_a_new_version(tmp_path: Path) -> None:
    data = shipped_data("standard")
    stage_of(data, "quote")["probability"] = "0.65"
    path = write(tmp_path, "changed.yaml", data)
    with pytest.raises(WorkflowDefinitionError, match="'standard' version 1 is already defined"):
        WorkflowRegistry.shipped().load_file(path)


def test_an_invalid_file_names_the_file(tmp_path: Path) -> None:
    data = standard_v2()
    stage_of(data, "quote")["probability"] = "7"
    path = write(tmp_path, "bad.yaml", data)
    with pytest.raises(WorkflowDefinitionError) as info:
        WorkflowRegistry().load_file(path)
    assert str(path) in str(info.value)
    assert "stage 'quote'" in str(info.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(WorkflowDefinitionError, match="cannot read"):
        WorkflowRegistry().load_file(tmp_path / "absent.yaml")
    with pytest.raises(WorkflowDefinitionError, match="not a directory"):
        WorkflowRegistry().load_dir(tmp_path / "absent")


def test_unknown_workflow_and_version() -> None:
    registry = WorkflowRegistry.shipped()
    with pytest.raises(WorkflowDefinitionError, match=r"unknown workflow 'retail' \(known: "
                                                      r"channel, standard\)"):
        registry.get("retail")
    with pytest.raises(WorkflowDefinitionError, match="workflow 'channel' has no version 4"):
        registry.get("channel", 4)
    with pytest.raises(WorkflowDefinitionError, match=r"known: none"):
        WorkflowRegistry().get("standard")
