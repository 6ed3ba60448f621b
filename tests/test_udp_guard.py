"""The UDP leak guard (tests/udp_guard.py): it must name a leaked socket, blame the right test
or fixture, and leave alone a socket that a wider-scoped fixture holds until its scope ends."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests import udp_guard
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(udp_guard.unavailable_reason() is not None,
                                reason=f"the guard is off here: {udp_guard.unavailable_reason()}")

# Run by a pytest of its own with only the guard as a plugin. Every socket it opens is on
# loopback; each test writes its port to ports/<test name> so the report can be checked.
INNER = '''
import gc
import os
import socket
from pathlib import Path

import pytest

KEPT = []


def bound(family=socket.AF_INET, kind=socket.SOCK_DGRAM):
    sock = socket.socket(family, kind)
    sock.bind(("127.0.0.1", 0))
    return sock


def note(name, sock):
    Path(os.environ["PORTS"], name).write_text(str(sock.getsockname()[1]))


def test_kept_open():
    sock = bound()
    note("kept_open", sock)
    KEPT.append(sock)


def test_dropped_in_a_cycle():
    gc.disable()  # until the next test: the guard, not an automatic collection, must find it
    sock = bound()
    note("dropped_in_a_cycle", sock)
    cycle = [sock]
    cycle.append(cycle)


def test_closed():
    gc.enable()
    with bound() as sock, bound(kind=socket.SOCK_STREAM) as tcp:
        note("closed", sock)
    KEPT.append(bound(kind=socket.SOCK_STREAM))  # not UDP: not the guard's business


@pytest.fixture
def per_test():
    sock = bound()
    note("per_test", sock)
    yield sock


def test_function_fixture_that_never_closes(per_test):
    pass


@pytest.fixture(scope="module")
def tidy():
    with bound() as sock:
        yield sock


@pytest.fixture(scope="module")
def leaky():
    sock = bound()
    note("leaky", sock)
    KEPT.append(sock)
    return sock


def test_first_user_of_module_fixtures(tidy, leaky):
    pass


def test_last_user_of_module_fixtures(tidy, leaky):
    pass
'''


def run_inner(tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, int]]:
    """Run INNER under the guard with tracemalloc on; return the run and each test's port."""
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER))
    (tmp_path / "conftest.py").write_text(
        "from tests import udp_guard\n\n\ndef pytest_configure(config):\n    udp_guard.install(config)\n")
    ports = tmp_path / "ports"
    ports.mkdir()
    env = {**os.environ, "PORTS": str(ports), "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    run = subprocess.run(
        [sys.executable, "-X", "tracemalloc=3", "-m", "pytest", "-p", "no:cacheprovider", "-rE",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path)],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    return run, {path.name: int(path.read_text()) for path in ports.iterdir()}


def error_section(output: str, test: str) -> str:
    """The ERRORS section's part about ``test``'s teardown."""
    start = output.index(f"ERROR at teardown of {test} ")
    end = output.find("____", output.index("\n", start))
    return output[start:end if end != -1 else None]


def test_the_guard_fails_each_leaking_test_and_names_the_socket(tmp_path: Path) -> None:
    run, ports = run_inner(tmp_path)
    output = run.stdout
    errors = sorted(line.split(" - ")[0] for line in output.splitlines() if line.startswith("ERROR "))
    assert errors == [f"ERROR test_inner.py::{name}" for name in (
        "test_dropped_in_a_cycle", "test_function_fixture_that_never_closes", "test_kept_open",
        "test_last_user_of_module_fixtures")], output
    assert "6 passed, 4 errors" in output and run.returncode == 1, output
    assert "udp leak guard: on" in output

    kept = error_section(output, "test_kept_open")
    assert f"127.0.0.1:{ports['kept_open']}, opened by this test" in kept and "still referenced" in kept
    made = INNER.splitlines().index("    sock = socket.socket(family, kind)") + 1
    assert f'test_inner.py", line {made}' in kept  # where bound() made it, from tracemalloc

    cycle = error_section(output, "test_dropped_in_a_cycle")
    assert f"127.0.0.1:{ports['dropped_in_a_cycle']}, opened by this test" in cycle
    assert "the garbage collector freed it" in cycle and "ResourceWarning: unclosed" in cycle

    assert f"127.0.0.1:{ports['per_test']}, opened by this test" in error_section(
        output, "test_function_fixture_that_never_closes")

    # The module fixtures were set up in the first test: only the module's end may judge
    # them, and it blames the fixture that leaked, not the one that closed its socket.
    module_end = error_section(output, "test_last_user_of_module_fixtures")
    assert f"127.0.0.1:{ports['leaky']}, opened by fixture 'leaky' (module scope)" in module_end
    assert "left 1 UDP socket(s) open" in module_end
    assert f"127.0.0.1:{ports['closed']}" not in output


def test_new_udp_sockets_reads_the_address_and_ignores_other_sockets() -> None:
    before = udp_guard.open_sockets()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
        udp.bind(("127.0.0.1", 0))
        tcp.bind(("127.0.0.1", 0))
        new = udp_guard.new_udp_sockets(before, udp_guard.open_sockets())
        assert list(new.values()) == [f"127.0.0.1:{udp.getsockname()[1]}"]
        assert udp_guard.open_sockets()[next(iter(new))] == udp.fileno()
    assert udp_guard.new_udp_sockets(before, udp_guard.open_sockets()) == {}


def test_an_ipv6_address_is_read_word_by_word() -> None:
    # ::1 and fe80::1:2 as /proc/net/udp6 prints them on a little-endian machine
    if sys.byteorder != "little":
        pytest.skip("the sample lines are a little-endian kernel's")
    assert udp_guard._address("00000000000000000000000001000000:0035") == "[::1]:53"
    assert udp_guard._address("000080FE000000000000000002000100:1F90") == "[fe80::1:2]:8080"
    assert udp_guard._address("0100007F:1F90") == "127.0.0.1:8080"


def test_without_proc_the_guard_says_why_it_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(udp_guard, "FD_DIR", "/nonexistent/fd")
    reason = udp_guard.unavailable_reason()
    assert reason is not None and "/nonexistent/fd" in reason
