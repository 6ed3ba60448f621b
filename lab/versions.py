"""The software a run measured with, and the guard that keeps aiortc and aioice to tested versions.

:mod:`lab.rtc.receiver_hooks` and :mod:`lab.loopback` reach into aiortc and aioice
internals (a receiver's packet handler and timestamp mapper, an ICE gatherer's connection
and its candidate gathering). Those can change in any release without notice, and a
silently broken hook gives wrong timings rather than an error. So :func:`require_tested`
refuses, at import of either module, versions outside the series the suite passed with
(:data:`TESTED`, the same ranges ``pyproject.toml`` declares). ``LAB_ALLOW_UNTESTED_AIORTC=1`` turns the
refusal into a warning, for trying a new release on purpose.
"""

from __future__ import annotations

import os
import platform
import warnings
from importlib import metadata

from packaging.specifiers import SpecifierSet

__all__ = ["LAB_VERSION", "ALLOW_UNTESTED_ENV", "RECORDED", "TESTED", "UntestedVersionWarning", "require_tested",
           "software_versions", "untested"]

LAB_VERSION = "0.1.0"
"""This package's version (pyproject.toml's), recorded in manifests and reports."""

TESTED: dict[str, str] = {"aiortc": ">=1.16,<1.17", "aioice": ">=0.13,<0.14"}
ALLOW_UNTESTED_ENV = "LAB_ALLOW_UNTESTED_AIORTC"
RECORDED = ("aiortc", "aioice", "av", "numpy")
"""Packages whose versions each run's manifest records (beside Python's)."""


class UntestedVersionWarning(UserWarning):
    """aiortc or aioice is outside the tested range and ``LAB_ALLOW_UNTESTED_AIORTC=1`` is set."""


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def untested() -> list[str]:
    """One line per package of :data:`TESTED` that is missing or outside its tested range."""
    problems = []
    for name, spec in TESTED.items():
        version = _installed(name)
        if version is None:
            problems.append(f"{name} is not installed (tested: {name}{spec})")
        elif not SpecifierSet(spec).contains(version, prereleases=True):
            problems.append(f"{name} {version} is installed (tested: {name}{spec})")
    return problems


def require_tested() -> None:
    """Raise ImportError (or warn, if allowed) when aiortc or aioice is not a tested version."""
    problems = untested()
    if not problems:
        return
    message = ("scope-lab hooks into aiortc and aioice internals and is tested only with the versions "
               "its lock pins:\n  " + "\n  ".join(problems) + "\nInstall the tested versions: `make install` "
               "in the checkout, or `pip install -r requirements/lock.txt`. To try these versions anyway, "
               f"set {ALLOW_UNTESTED_ENV}=1 (timings may then be wrong without an error).")
    if os.environ.get(ALLOW_UNTESTED_ENV) == "1":
        warnings.warn(message, UntestedVersionWarning, stacklevel=2)
    else:
        raise ImportError(message)


def software_versions() -> dict[str, str | None]:
    """Python's version and those of :data:`RECORDED` (None where one is not installed)."""
    return {"python": platform.python_version(), **{name: _installed(name) for name in RECORDED}}
