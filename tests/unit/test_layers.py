"""The dependency direction is enforced: `make lint` runs import-linter over pyproject's contracts, the real
tree keeps them, and one wrong import in a copy of the tree breaks the contract it offends."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "models", "gis")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """lint-imports over the packages found in `cwd` (it puts `cwd` first on sys.path), wide output."""
    args = [str(LINT_IMPORTS), "--no-cache", "--no-logo"]
    for contract in contracts:
        args += ["--contract", contract]
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the packages and of pyproject.toml (which holds the contracts)."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_make_lint_target_runs_import_linter():
    lint = (ROOT / "Makefile").read_text().split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "lint-imports" in lint


def test_the_real_tree_keeps_every_contract():
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 broken" in done.stdout


def test_an_unchanged_copy_keeps_every_contract(tree: Path):
    done = _lint_imports(tree)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("contract", "module", "line"), [
    # a rule module importing the web framework directly
    ("pure-rules", "app/parcels/rules.py", "import fastapi"),
    # ... or through a module that does (the calendar once took CITY_TZ from app.features.params)
    ("pure-rules", "app/calendar.py", "import app.features.params"),
    ("pure-rules", "app/policy.py", "import pydantic"),
    ("layers", "gis/crs.py", "import app.errors"),
    ("layers", "models/base.py", "import app.policy"),
    ("services-no-http", "app/zones/service.py", "import starlette.responses"),
    ("routes-from-main", "app/zones/service.py", "import app.parcels.routes"),
    ("entry-points", "app/parcels/service.py", "import app.main"),
])
def test_one_wrong_import_breaks_its_contract(tree: Path, contract: str, module: str, line: str):
    path = tree / module
    path.write_text(path.read_text() + f"\n{line}  # the wrong import under test\n")
    done = _lint_imports(tree, contract)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "0 kept, 1 broken" in done.stdout
    importer = module.removesuffix(".py").replace("/", ".")
    assert importer in done.stdout, done.stdout
