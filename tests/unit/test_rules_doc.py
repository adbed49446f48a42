"""docs/RULES.md names, for each rule and write path, the test that proves it: every named test exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ["rule", "REST", "WFS-T", "OGC API", "import", "web page", "CLI", "demo"]
CELL = re.compile(r"^(tests/[\w/]+\.py)::(\w+)$")


def _rows() -> list[list[str]]:
    lines = [line for line in (ROOT / "docs" / "RULES.md").read_text().splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")}


def test_the_rules_table_has_every_write_path_as_a_column():
    assert _rows()[0] == COLUMNS


def test_every_cell_names_an_existing_test_or_says_why_there_is_none():
    for row in _rows()[2:]:
        assert len(row) == len(COLUMNS), row
        for cell in row[1:]:
            if cell.startswith("—"):
                continue
            match = CELL.match(cell)
            assert match, f"{row[0]}: {cell!r} is neither path::test nor '— reason'"
            path, name = ROOT / match[1], match[2]
            assert path.is_file(), f"{row[0]}: {match[1]} does not exist"
            assert name in _tests_in(path), f"{row[0]}: {match[1]} has no {name}"
