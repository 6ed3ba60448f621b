"""How the hosted API emulation starts (:class:`HostedConfig`) and what can go wrong on purpose.

Start-up is a load-like wait: it is divided by :attr:`lab.sim.config.SimConfig.speed`. The
playback delay and the media are real time, like the Scope emulation's media path.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SIM_API_KEY", "HostedConfig", "HostedFault", "HostedFaultKind"]

# The key the simulator accepts unless configured otherwise: set DAYDREAM_API_KEY to it to
# use ``daydream:sim``. It opens nothing but this simulator.
SIM_API_KEY = "sk_sim_daydream_test_key_0000"

HostedFaultKind = Literal["unauthorized", "rate_limited", "server_error", "never_ready", "late_whep", "stall"]


class HostedFault(BaseModel):
    """One injected failure of the hosted API.

    ``unauthorized``: the next REST requests answer 401 even with a valid key (a revoked key).
    ``rate_limited``: they answer 429 with ``Retry-After: retry_after_s``.
    ``server_error``: they answer ``status`` (default 503).
    ``never_ready``: the next created streams never become ready (status stays LOADING,
    WHEP answers 404).
    ``late_whep``: the next created streams report ONLINE, but their WHEP endpoint answers
    404 for ``delay_s`` more seconds (the output arrives late).
    ``stall``: the next created streams' output sends nothing for ``duration_s`` seconds,
    ``after_s`` seconds after its first frame (as Scope's ``stall`` media fault; real seconds).
    ``count`` is how many requests (REST faults) or streams (stream faults) it affects.
    """

    model_config = ConfigDict(extra="forbid")

    kind: HostedFaultKind
    count: int = Field(default=1, ge=1)
    status: int = Field(default=503, ge=500, le=599)
    retry_after_s: int = Field(default=1, ge=0)
    delay_s: float = Field(default=5.0, ge=0)
    after_s: float = Field(default=1.0, ge=0)
    duration_s: float = Field(default=2.0, gt=0)


class HostedConfig(BaseModel):
    """The hosted API emulation's startup configuration.

    Parameters
    ----------
    api_keys
        Bearer keys the emulation accepts.
    startup_s
        From the first WHIP offer of a stream to its output being ready (divided by the
        simulator's speed). Real streams take seconds to minutes; the default is a warm
        start.
    playback_delay_s
        Added to every output frame (the gateway and relay of the hosted service), real time.
    faults
        Faults active at startup.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_keys: list[str] = Field(default_factory=lambda: [SIM_API_KEY])
    startup_s: float = Field(default=20.0, ge=0)
    playback_delay_s: float = Field(default=0.3, ge=0)
    faults: list[HostedFault] = Field(default_factory=list)
