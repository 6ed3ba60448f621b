"""The tested-version guard for aiortc and aioice, and its agreement with pyproject and the lock."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from lab import versions

ROOT = Path(__file__).resolve().parents[1]


def _fake_versions(monkeypatch: pytest.MonkeyPatch, **fake: str | None) -> None:
    """Make ``importlib.metadata.version`` report ``fake`` (None: not installed) for those names."""
    real: Callable[[str], str] = metadata.version

    def version(name: str) -> str:
        if name not in fake:
            return real(name)
        if fake[name] is None:
            raise metadata.PackageNotFoundError(name)
        return str(fake[name])

    monkeypatch.setattr(versions.metadata, "version", version)


def test_the_installed_aiortc_and_aioice_are_tested_ones() -> None:
    assert versions.untested() == []
    versions.require_tested()


@pytest.mark.parametrize("name, version", [("aiortc", "1.17.0"), ("aiortc", "1.15.2"), ("aioice", "0.14.0"),
                                           ("aiortc", "1.17.0rc1")])
def test_an_untested_version_is_refused_with_what_to_do(monkeypatch: pytest.MonkeyPatch, name: str,
                                                         version: str) -> None:
    monkeypatch.delenv(versions.ALLOW_UNTESTED_ENV, raising=False)
    _fake_versions(monkeypatch, **{name: version})
    with pytest.raises(ImportError) as raised:
        versions.require_tested()
    message = str(raised.value)
    assert f"{name} {version} is installed (tested: {name}{versions.TESTED[name]})" in message
    assert "requirements/lock.txt" in message and "make install" in message
    assert f"{versions.ALLOW_UNTESTED_ENV}=1" in message


def test_a_patch_release_of_the_tested_series_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_versions(monkeypatch, aiortc="1.16.9", aioice="0.13.1")
    assert versions.untested() == []


def test_a_missing_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_versions(monkeypatch, aioice=None)
    assert versions.untested() == [f"aioice is not installed (tested: aioice{versions.TESTED['aioice']})"]


def test_the_escape_hatch_warns_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(versions.ALLOW_UNTESTED_ENV, "1")
    _fake_versions(monkeypatch, aiortc="2.0.0")
    with pytest.warns(versions.UntestedVersionWarning, match="aiortc 2.0.0 is installed"):
        versions.require_tested()


@pytest.mark.parametrize("module", ["lab.loopback", "lab.rtc.receiver_hooks"])
def test_importing_a_module_that_hooks_aiortc_refuses_an_untested_version(module: str) -> None:
    """In a fresh interpreter (this one may have imported it already); the module's own check refuses."""
    script = ("from importlib import metadata\n"
              "real = metadata.version\n"
              "metadata.version = lambda name: '1.17.0' if name == 'aiortc' else real(name)\n"
              f"import {module}\n")
    env = {k: v for k, v in os.environ.items() if k != versions.ALLOW_UNTESTED_ENV}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode != 0
    assert "ImportError: scope-lab hooks into aiortc and aioice internals" in done.stderr
    assert "aiortc 1.17.0 is installed" in done.stderr
    assert f"{module.replace('.', '/')}.py" in done.stderr


def test_pyproject_declares_the_tested_ranges() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {r.name: r.specifier for r in map(Requirement, project["dependencies"])}
    assert {name: declared[name] for name in versions.TESTED} == {
        name: SpecifierSet(spec) for name, spec in versions.TESTED.items()}


def test_the_lock_pins_tested_versions() -> None:
    lock = (ROOT / "requirements" / "lock.txt").read_text()
    for name, spec in versions.TESTED.items():
        pinned = re.search(rf"^{name}==(\S+)", lock, re.MULTILINE)
        assert pinned is not None, f"{name} is not pinned in requirements/lock.txt"
        assert SpecifierSet(spec).contains(pinned[1]), f"the lock pins {name} {pinned[1]}, outside {spec}"
