"""A pytest plugin that fails the test which leaves a UDP socket open, in that very test.

Why: an unclosed socket is noticed by nobody until the garbage collector happens to free it,
in some later and unrelated test, whose run ``filterwarnings = ["error"]`` then fails on the
socket's ResourceWarning (about one full run in 13). Comparing the process's open UDP sockets
before a test's setup with those after its teardown makes such a leak fail at once, and names
the test, the socket's address and, under ``PYTHONTRACEMALLOC=20``, where it was made.

Scopes: a socket opened while a fixture of wider scope (class, module, package, session) is set
up belongs to that fixture and must be closed once the fixture's node is torn down; any other
socket opened in a test's setup, call or teardown must be closed by the end of its teardown.

Linux only (``/proc/self/fd`` and ``/proc/net/udp*``); elsewhere it is off, and the report
header says why. Cost: one listing of ``/proc/self/fd`` before and after each test; the UDP
tables are read only when a socket of any kind appeared, and the heap is searched and collected
only for a leak.
"""

from __future__ import annotations

import gc
import os
import socket
import sys
import tracemalloc
import warnings
from collections.abc import Generator, Mapping
from typing import Any

import pytest

__all__ = ["UdpGuard", "install", "new_udp_sockets", "open_sockets", "udp_addresses"]

FD_DIR = "/proc/self/fd"
UDP_TABLES = ("/proc/net/udp", "/proc/net/udp6")
_SOCKET_LINK = "socket:["


def unavailable_reason() -> str | None:
    """Why the guard cannot run here, or None when it can."""
    missing = [path for path in (FD_DIR, *UDP_TABLES) if not os.path.exists(path)]
    return f"no {', '.join(missing)} on {sys.platform}" if missing else None


def open_sockets() -> dict[int, int]:
    """Inode -> file descriptor of every socket this process holds open."""
    inodes = {}
    for name in os.listdir(FD_DIR):
        try:
            target = os.readlink(f"{FD_DIR}/{name}")
        except OSError:  # closed since the listing (the listing's own descriptor among them)
            continue
        if target.startswith(_SOCKET_LINK):
            inodes[int(target[len(_SOCKET_LINK):-1])] = int(name)
    return inodes


def udp_addresses() -> dict[int, str]:
    """Inode -> local ``address:port`` of every bound UDP socket in this network namespace."""
    found = {}
    for path in UDP_TABLES:
        with open(path) as table:
            next(table)  # the column names
            for line in table:
                fields = line.split()
                found[int(fields[9])] = _address(fields[1])
    return found


def _address(hex_address: str) -> str:
    """``0100007F:1F90`` -> ``127.0.0.1:8080``: the kernel prints each 32-bit word of the
    address in host byte order."""
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    if len(raw) == 4:
        return f"{socket.inet_ntop(socket.AF_INET, raw)}:{int(port, 16)}"
    return f"[{socket.inet_ntop(socket.AF_INET6, raw)}]:{int(port, 16)}"


def new_udp_sockets(before: Mapping[int, int], after: Mapping[int, int]) -> dict[int, str]:
    """The UDP sockets open in ``after`` but not in ``before`` (inode -> local address)."""
    new = after.keys() - before.keys()
    if not new:
        return {}
    table = udp_addresses()
    return {inode: table[inode] for inode in sorted(new) if inode in table}


def _allocation_sites(fds: set[int]) -> dict[int, str]:
    """Where the socket objects on ``fds`` were made, by descriptor (needs tracemalloc)."""
    sites: dict[int, str] = {}
    if not tracemalloc.is_tracing():
        return sites
    for obj in gc.get_objects():
        # type(), not isinstance(): a lazy proxy's __class__ may run arbitrary code
        if issubclass(type(obj), socket.socket) and obj.fileno() in fds:
            made = tracemalloc.get_object_traceback(obj)
            if made is not None:
                sites[obj.fileno()] = "".join(f"\n      {line}" for line in made.format(most_recent_first=True))
    return sites


def _collect_garbage() -> list[str]:
    """Run the garbage collector; return the warnings it raised (the unclosed sockets' own),
    so that they land in this report rather than in the next test."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    return [f"{w.category.__name__}: {w.message}" for w in caught]


def leak_report(leaks: Mapping[int, str], fds: Mapping[int, int]) -> str:
    """The failure message for ``leaks`` (inode -> description), sockets on ``fds``."""
    sites = _allocation_sites({fds[inode] for inode in leaks})
    collected = _collect_garbage()
    still_open = open_sockets()
    lines = [f"left {len(leaks)} UDP socket(s) open:"]
    for inode, what in leaks.items():
        fd = fds[inode]
        state = ("still referenced" if inode in still_open
                 else "unreachable: never closed, the garbage collector freed it")
        lines.append(f"  {what} (fd {fd}, {state})"
                     + sites.get(fd, "  [PYTHONTRACEMALLOC=20 shows where it was made]"))
    lines += [f"  garbage collection warned: {warning}" for warning in collected]
    return "\n".join(lines)


class UdpGuard:
    """The plugin: snapshots around each test and each wider-scoped fixture's setup."""

    def __init__(self) -> None:
        self._before: dict[int, int] = {}
        self._wider: set[int] = set()  # sockets of wider-scoped fixtures set up in this test
        self._held: dict[Any, dict[int, str]] = {}  # node -> its fixtures' sockets

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        self._before = open_sockets()
        self._wider = set()
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any],
                             request: pytest.FixtureRequest) -> Generator[None, Any, Any]:
        if fixturedef.scope == "function":
            return (yield)
        before = open_sockets()
        try:
            return (yield)
        finally:
            new = new_udp_sockets(before, open_sockets())
            owner = f"fixture {fixturedef.argname!r} ({fixturedef.scope} scope)"
            self._held.setdefault(request.node, {}).update(
                {inode: f"{address}, opened by {owner}" for inode, address in new.items()})
            self._wider |= new.keys()

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item,
                                nextitem: pytest.Item | None) -> Generator[None, None, None]:
        try:
            result = yield
        except BaseException as exc:
            report = self._report(item, nextitem)
            if report:
                exc.add_note(report)
            raise
        report = self._report(item, nextitem)
        if report:
            pytest.fail(report, pytrace=False)
        return result

    def _report(self, item: pytest.Item, nextitem: pytest.Item | None) -> str | None:
        """What this teardown leaves open that the test, or a fixture torn down now, opened."""
        after = open_sockets()
        leaks = {inode: f"{address}, opened by this test"
                 for inode, address in new_udp_sockets(self._before, after).items()
                 if inode not in self._wider}
        staying = set(nextitem.listchain()) if nextitem is not None else set()
        for node in item.listchain():
            if node not in staying:
                leaks.update((inode, what) for inode, what in self._held.pop(node, {}).items()
                             if inode in after)
        return leak_report(leaks, after) if leaks else None

    def pytest_report_header(self) -> str:
        return "udp leak guard: on (tests/udp_guard.py)"


class _Off:
    """Stands in for the guard where /proc is missing, to say so in the report header."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def pytest_report_header(self) -> str:
        return f"udp leak guard: off ({self.reason})"


def install(config: pytest.Config) -> None:
    """Register the guard, or a note in the report header of why it is off."""
    reason = unavailable_reason()
    config.pluginmanager.register(UdpGuard() if reason is None else _Off(reason), "udp-guard")
