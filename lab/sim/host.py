"""What the emulated host machine reports: hardware integrations and API keys.

The simulator runs none of Spout, NDI or Syphon, so those answers are fixed (the integration
texts are those a Linux Scope 0.2.4 host sends). Keys come from the environment (the config's
``huggingface_token_set``) or from :class:`lab.sim.userdata.KeyStore`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["api_keys", "hardware_info"]

_INTEGRATIONS: dict[str, dict[str, str | bool | None]] = {
    "spout": {
        "available": False,
        "reason": "Spout is Windows-only",
        "install_hint": "Run Scope on Windows to use Spout sources and sinks.",
    },
    "ndi": {
        "available": False,
        "reason": "NDI SDK not found",
        "install_hint": "Install the NDI SDK from https://ndi.video/tools and restart Scope.",
    },
    "syphon": {
        "available": False,
        "reason": "Syphon is macOS-only",
        "install_hint": "Run Scope on macOS to use Syphon sources and sinks.",
    },
}


def hardware_info(vram_gb: float | None) -> dict[str, Any]:
    """The ``/api/v1/hardware/info`` body for a GPU with ``vram_gb`` GiB (None: no CUDA)."""
    return {"vram_gb": vram_gb, **{name: dict(info) for name, info in _INTEGRATIONS.items()}}


def api_keys(env_set: frozenset[str], stored: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The ``/api/v1/keys`` body: a key set in the environment wins over a stored one."""
    return {
        "keys": [
            {
                "id": "huggingface",
                "name": "HuggingFace",
                "description": "Token for gated model downloads and Cloudflare TURN servers",
                **_key_status("huggingface", env_set, stored),
                "env_var": "HF_TOKEN",
                "key_url": "https://huggingface.co/settings/tokens",
            },
            {
                "id": "civitai",
                "name": "CivitAI",
                "description": "Token for LoRA downloads from CivitAI",
                **_key_status("civitai", env_set, stored),
                "env_var": "CIVITAI_API_TOKEN",
                "key_url": "https://civitai.com/user/account",
            },
        ]
    }


def _key_status(service: str, env_set: frozenset[str], stored: frozenset[str]) -> dict[str, Any]:
    source = "env_var" if service in env_set else "stored" if service in stored else None
    return {"is_set": source is not None, "source": source}
