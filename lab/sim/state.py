"""The simulator's mutable state, independent of HTTP: one :class:`SimState` per app.

It ties together the registered pipelines, the emulated GPU, model files, the pipeline
loader, assets, ICE servers, faults and WebRTC sessions, the emulated host's LoRAs, plugins,
keys and integrations, and the simulator's log, and can return all of them (but the log) to
the startup config.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

from lab.redact import redact
from lab.sim.assets import AssetStore
from lab.sim.config import SimConfig
from lab.sim.downloads import ModelStore
from lab.sim.faults import FaultBook
from lab.sim.hosted.streams import HostedBook
from lab.sim.input_preview import PreviewStreams
from lab.sim.integrations import CloudLink, DmxSettings, OscSettings
from lab.sim.loader import PipelineLoader
from lab.sim.loras import LoraBook
from lab.sim.media import SessionBook
from lab.sim.plugins import PluginBook
from lab.sim.profiles import PipelineProfile, load_profiles
from lab.sim.recordings import RecordingBook
from lab.sim.runpod import PodBook
from lab.sim.simlog import SimLog
from lab.sim.userdata import KeyStore, Onboarding

__all__ = ["SimState"]

logger = logging.getLogger(__name__)


class SimState:
    """Everything a running simulator knows and can change.

    Parameters
    ----------
    config
        The startup configuration; :meth:`reset` returns to it.

    Raises
    ------
    ValueError
        If the profile file cannot be loaded.
    """

    # Set by _start_fresh, at startup and on every reset.
    vram_gb: float | None
    ice_servers: list[dict[str, Any]]
    models: ModelStore
    loader: PipelineLoader
    loras: LoraBook
    plugins: PluginBook
    keys: KeyStore
    onboarding: Onboarding
    osc: OscSettings
    dmx: DmxSettings
    cloud: CloudLink
    recordings: RecordingBook
    runpod: PodBook

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.server_start_time = time.time()
        self.profiles: dict[str, PipelineProfile] = {
            profile.id: profile
            for profile in load_profiles(config.profile_path).pipelines
            if not (config.cpu_only and profile.emulation.cuda_only)
        }
        self.schemas = {
            "pipelines": {pid: profile.schema_meta() for pid, profile in self.profiles.items()}
        }
        self.faults = FaultBook(config.faults)
        self.assets = AssetStore(config.assets_dir)
        self._start_fresh()
        self.media = SessionBook(
            self.profiles, lambda: self.loader.status(consume_error=False), self.faults
        )
        self.previews = PreviewStreams()  # each ends with its client, reset or not
        self.hosted = HostedBook(config.hosted, config.speed)  # Daydream's hosted API (lab.sim.hosted)
        self.log = SimLog()  # kept across resets, like a server's log file
        self.log.attach()

    def _start_fresh(self) -> None:
        self.vram_gb = self.config.vram_gb
        self.ice_servers = copy.deepcopy(self.config.ice_servers)
        self.models = ModelStore(
            self.profiles,
            present=self.config.models == "present",
            mb_per_s=self.config.download_mb_per_s,
            speed=self.config.speed,
        )
        self.loader = self._new_loader()
        # Where Scope keeps LoRAs relative to assets (<models>/lora, assets beside models).
        self.loras = LoraBook(self.assets.root.parent / "models" / "lora")
        self.plugins = PluginBook()
        env_keys = {"huggingface"} if self.config.huggingface_token_set else set()
        self.keys = KeyStore(frozenset(env_keys))
        self.onboarding = Onboarding()
        self.osc = OscSettings()
        self.dmx = DmxSettings()
        self.cloud = CloudLink()
        self.recordings = RecordingBook()
        self.runpod = PodBook(self.config.runpod, self.config.speed)

    def _new_loader(self) -> PipelineLoader:
        return PipelineLoader(
            self.profiles, self.models, self.faults, lambda: self.vram_gb, self.config.speed
        )

    def snapshot(self) -> dict[str, Any]:
        """A read-only view for ``/sim/state`` (it does not consume a pending ``error``)."""
        return {
            "simulator": True,
            "config": redact(self.config.model_dump(mode="json")),  # the emulated RunPod key and env
            "faults": self.faults.active(),
            "hardware": {"vram_gb": self.vram_gb},
            "pipeline": self.loader.status(consume_error=False),
            "models": self.models.statuses(),
            "downloads": self.models.history,  # start and end of each, time.monotonic
            "loads": self.loader.history,
            "ice_servers": self.ice_servers,
            "assets_dir": str(self.assets.root),
            "media": self.media.snapshot(),
            "input_previews": self.previews.open,
        }

    async def reset(self) -> None:
        """Return to the startup config, closing and forgetting every WebRTC session.

        Faults, pipelines, models, assets, GPU, ICE servers and media knobs all go back.
        """
        await self.media.reset()
        await self.hosted.reset()
        await self.loader.aclose()
        await self.models.aclose()
        await self.recordings.aclose()
        self.faults.clear()
        for fault in self.config.faults:
            self.faults.add(fault)
        self.assets.reset()
        self._start_fresh()
        logger.info("Simulator reset to its startup config")

    async def restart(self) -> None:
        """What ``POST /api/v1/restart`` does to a server: a new start time, every session
        closed, no pipeline loaded, no recording, cloud and OSC inventory gone.

        What a real server keeps on disk stays (models, assets, LoRAs, plugins, keys,
        onboarding, DMX config), and so do the simulator's own knobs (faults, GPU, media).
        """
        await self.media.close_all()
        await self.loader.aclose()
        await self.recordings.aclose()
        self.loader = self._new_loader()
        self.recordings = RecordingBook()
        self.cloud = CloudLink()
        self.osc = OscSettings()
        self.server_start_time = time.time()
        logger.info("Server restarted (emulated): sessions closed, pipelines unloaded")

    async def aclose(self) -> None:
        """Close every session, stop background work and remove the temporary asset directory."""
        await self.media.aclose()
        await self.hosted.aclose()
        await self.recordings.aclose()
        await self.loader.aclose()
        await self.models.aclose()
        self.assets.close()
        self.log.detach()
