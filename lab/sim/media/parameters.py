"""Session parameters: Scope's ``Parameters`` model, and how a session's updates are applied.

:class:`Parameters` validates ``initialParameters`` of an offer and the body of
``POST /api/v1/session/parameters`` as Scope does (extra keys allowed; 422 on bad values).
Data-channel messages are not validated, as in Scope.

:class:`SessionParameters` holds a session's current parameters and its pending updates:
an update waits in a queue of at most ``MAX_PENDING_UPDATES`` (later ones are dropped and
logged), and the frame processor applies one per chunk. One-shot keys (reference images,
first/last frame images, ``images``) count for the chunk that applied them only.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lab.protocol import ONE_SHOT_KEYS

__all__ = [
    "MAX_PENDING_UPDATES",
    "ChunkParameters",
    "Parameters",
    "PromptItem",
    "SessionParameters",
    "prompt_weights",
]

logger = logging.getLogger(__name__)

MAX_PENDING_UPDATES = 8


class PromptItem(BaseModel):
    """One weighted prompt."""

    text: str
    weight: float = Field(default=1.0, ge=0)


class Transition(BaseModel):
    """A move to new prompts over ``num_steps`` chunks."""

    target_prompts: list[PromptItem]
    num_steps: int = Field(default=4, ge=0)
    temporal_interpolation_method: Literal["linear", "slerp"] = "linear"


class LoraScale(BaseModel):
    """A runtime LoRA scale."""

    path: str
    scale: float = Field(ge=-10, le=10)


class Parameters(BaseModel):
    """Scope 0.2.4's runtime parameters; unknown keys are kept.

    ``vace_context_scale`` and ``prompt_interpolation_method`` have non-null defaults, so
    they appear in every validated update (a Scope quirk the simulator keeps).
    """

    model_config = ConfigDict(extra="allow")

    pipeline_ids: list[str] | None = None
    input_mode: Literal["text", "video"] | None = None
    prompts: list[PromptItem] | None = None
    prompt_interpolation_method: Literal["linear", "slerp"] = "linear"
    transition: Transition | None = None
    denoising_step_list: list[int] | None = None
    noise_scale: float | None = Field(default=None, ge=0, le=1)
    noise_controller: bool | None = None
    manage_cache: bool | None = None
    reset_cache: bool | None = None
    kv_cache_attention_bias: float | None = Field(default=None, ge=0.01, le=1.0)
    lora_scales: list[LoraScale] | None = None
    output_sinks: dict[str, Any] | None = None
    vace_enabled: bool | None = None
    vace_ref_images: list[str] | None = None
    vace_use_input_video: bool | None = None
    vace_context_scale: float = Field(default=1.0, ge=0, le=2)
    first_frame_image: str | None = None
    last_frame_image: str | None = None
    images: list[str] | None = None
    graph: dict[str, Any] | None = None
    recording: bool | None = None
    node_id: str | None = None

    def applied(self) -> dict[str, Any]:
        """The update as Scope applies it: every key that is set, defaults included."""
        return self.model_dump(mode="json", exclude_none=True)


def prompt_weights(prompts: Any) -> list[tuple[str, float]]:
    """Normalise a ``prompts`` value (items or, over the data channel, plain strings).

    Returns ``(text, weight)`` pairs with weights summing to 1; an empty list when there
    is no usable prompt.

    Examples
    --------
    >>> prompt_weights([{"text": "a", "weight": 3}, "b"])
    [('a', 0.75), ('b', 0.25)]
    """
    pairs: list[tuple[str, float]] = []
    for item in prompts if isinstance(prompts, list) else []:
        if isinstance(item, str):
            pairs.append((item, 1.0))
        elif isinstance(item, dict) and isinstance(item.get("text"), str):
            weight = item.get("weight", 1.0)
            if isinstance(weight, (int, float)):  # data-channel values are not validated
                pairs.append((item["text"], max(float(weight), 0.0)))
    total = sum(weight for _, weight in pairs)
    if total <= 0:
        return []
    return [(text, weight / total) for text, weight in pairs]


@dataclass(frozen=True)
class ChunkParameters:
    """What one chunk runs with: the merged parameters and the update first applied in it."""

    values: dict[str, Any]
    update: dict[str, Any] | None
    update_received_ns: int | None

    @property
    def video_mode(self) -> bool:
        """Video-to-video: ``input_mode`` is ``"video"`` (anything else is text)."""
        return self.values.get("input_mode") == "video"


class SessionParameters:
    """A session's current parameters and its queue of pending updates.

    Parameters
    ----------
    initial
        The offer's validated ``initialParameters``.
    """

    def __init__(self, initial: dict[str, Any]) -> None:
        self._values = dict(initial)
        self._pending: deque[tuple[int, dict[str, Any]]] = deque()
        self._queued = asyncio.Event()
        self.dropped_updates = 0

    @property
    def current(self) -> dict[str, Any]:
        """A copy of the current merged parameters."""
        return dict(self._values)

    def queue(self, update: dict[str, Any], received_ns: int) -> bool:
        """Queue an update for a coming chunk; False if the queue was full and it was dropped."""
        if len(self._pending) >= MAX_PENDING_UPDATES:
            self.dropped_updates += 1
            logger.warning("Dropped a parameter update: %d are pending", len(self._pending))
            return False
        self._pending.append((received_ns, dict(update)))
        self._queued.set()
        return True

    async def wait_for_update(self) -> None:
        """Wait until an update is pending."""
        while not self._pending:
            self._queued.clear()
            await self._queued.wait()

    def next_chunk(self) -> ChunkParameters:
        """Apply at most one pending update and return what the next chunk runs with.

        One-shot keys are in the result but no longer in the stored parameters afterwards.
        """
        update: dict[str, Any] | None = None
        received_ns: int | None = None
        if self._pending:
            received_ns, update = self._pending.popleft()
            self._values.update(update)
        values = dict(self._values)
        for key in ONE_SHOT_KEYS:
            self._values.pop(key, None)
        return ChunkParameters(values, update, received_ns)

    def settle_transition(self, target_prompts: list[Any]) -> None:
        """A transition has finished: its target prompts become the prompts."""
        self._values.pop("transition", None)
        self._values["prompts"] = target_prompts
