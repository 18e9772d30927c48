"""The dependency rules between the packages (import-linter contracts in pyproject.toml) hold, and fail when broken.

nets and trackers import nothing of ours, train only nets, stream only nets and trackers. Imports inside
functions count: import-linter reads every import statement of every module, without running them.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nets", "stream", "trackers", "train")
CONTRACTS = {"nets": "nets imports nothing of ours", "trackers": "trackers imports nothing of ours",
             "train": "train imports only nets", "stream": "stream imports only nets and trackers"}


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter with ``root/pyproject.toml``'s contracts on the packages under ``root`` (first on the path)."""
    if importlib.util.find_spec("importlinter") is None:
        pytest.fail("import-linter is not installed: pip install -e '.[test]' (or ./install.sh)")
    code = ("import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))")
    env = {**os.environ, "PYTHONPATH": str(root), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_packages_keep_the_rules():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken." in result.stdout
    for name in CONTRACTS.values():
        assert f"{name} KEPT" in result.stdout


@pytest.mark.parametrize("package, forbidden, broken", [
    ("trackers", "nets.joints", {"trackers"}),
    ("train", "stream.config", {"train"}),
    ("stream", "train.config", {"stream"}),
    ("nets", "trackers.config", {"nets", "train"}),   # train -> nets -> trackers: indirect imports count
])
def test_a_broken_rule_fails_naming_it(tmp_path, package, forbidden, broken):
    """A copy of the packages with one forbidden import added: the check fails, naming the rule and the import."""
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    module = tmp_path / package / "config.py"
    module.write_text(module.read_text() + f"\n\ndef _broken():\n    import {forbidden}  # noqa: F401\n")

    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"Contracts: {4 - len(broken)} kept, {len(broken)} broken." in result.stdout
    for rule, name in CONTRACTS.items():
        assert f"{name} {'BROKEN' if rule in broken else 'KEPT'}" in result.stdout
    assert f"{package}.config -> {forbidden}" in result.stdout
