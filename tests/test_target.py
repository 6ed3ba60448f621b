"""Target parsing: every accepted form, and the errors for forms that are not."""

from __future__ import annotations

import pytest

from lab.errors import TargetError
from lab.target import Target


@pytest.mark.parametrize(
    ("text", "kind", "url"),
    [
        pytest.param("sim", "sim", None, id="sim"),
        pytest.param(" SIM ", "sim", None, id="sim-case-space"),
        pytest.param("gbc63llq1zdxki", "runpod", "https://gbc63llq1zdxki-8000.proxy.runpod.net", id="pod-id"),
        pytest.param("runpod:gbc63llq1zdxki:8888", "runpod", "https://gbc63llq1zdxki-8888.proxy.runpod.net", id="runpod-port"),
        pytest.param("https://gbc63llq1zdxki-8000.proxy.runpod.net/", "runpod", "https://gbc63llq1zdxki-8000.proxy.runpod.net", id="proxy-url"),
        pytest.param("http://127.0.0.1:8000", "url", "http://127.0.0.1:8000", id="url"),
        pytest.param("localhost:8000", "url", "http://localhost:8000", id="host-port"),
        pytest.param("localhost", "url", "http://localhost", id="localhost"),
        pytest.param("http://[::1]:8000", "url", "http://[::1]:8000", id="ipv6"),
    ],
)
def test_parse_accepted_forms(text: str, kind: str, url: str | None) -> None:
    target = Target.parse(text)
    assert (target.kind, target.url) == (kind, url)


@pytest.mark.parametrize(
    ("text", "loopback"),
    [("sim", True), ("http://127.0.0.1:9", True), ("http://[::1]:9", True), ("localhost:1", True),
     ("http://10.0.0.1:8000", False), ("gbc63llq1zdxki", False)],
)
def test_loopback_detection(text: str, loopback: bool) -> None:
    assert Target.parse(text).is_loopback is loopback


def test_runpod_port_is_read_from_proxy_host() -> None:
    assert Target.parse("runpod:gbc63llq1zdxki:8888").runpod_port == 8888
    assert Target.parse("http://127.0.0.1:8000").runpod_port is None


def test_runpod_io_with_port_explains_the_proxy_form() -> None:
    # The research log's step 6 gives this (wrong) form.
    with pytest.raises(TargetError, match=r"https://gbc63llq1zdxki-8000\.proxy\.runpod\.net"):
        Target.parse("https://gbc63llq1zdxki.runpod.io:8000")


@pytest.mark.parametrize("text", ["scope", "ftp://host:21", "http://", "my server"])
def test_unknown_forms_list_what_works(text: str) -> None:
    with pytest.raises(TargetError, match="RunPod pod id") as info:
        Target.parse(text)
    assert info.value.target == text.strip()
