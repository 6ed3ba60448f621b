"""What the emulated host machine reports: hardware integrations and API keys.

The simulator runs none of Spout, NDI or Syphon and stores no keys, so these answers are fixed
(the integration texts are those a Linux Scope 0.2.4 host sends).
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


def api_keys(huggingface_set: bool) -> dict[str, Any]:
    """The ``/api/v1/keys`` body; a HuggingFace token, if set, comes from the environment."""
    return {
        "keys": [
            {
                "id": "huggingface",
                "name": "HuggingFace",
                "description": "Token for gated model downloads and Cloudflare TURN servers",
                "is_set": huggingface_set,
                "source": "env_var" if huggingface_set else None,
                "env_var": "HF_TOKEN",
                "key_url": "https://huggingface.co/settings/tokens",
            },
            {
                "id": "civitai",
                "name": "CivitAI",
                "description": "Token for LoRA downloads from CivitAI",
                "is_set": False,
                "source": None,
                "env_var": "CIVITAI_API_TOKEN",
                "key_url": "https://civitai.com/user/account",
            },
        ]
    }
