"""How a prompt change is sent: at once (``prompts``) or as Scope's ``transition`` over chunks.

Scope blends to new prompts over ``num_steps`` chunks when a change comes as
``{"transition": {"target_prompts", "num_steps", "temporal_interpolation_method"}}``, and its
own frontend sends prompt changes that way with 4 steps by default, which adds to the
control latency by design. So a control-latency figure is only meaningful with the
transition it ran with: the live panel and the sweeps build their prompt changes here, and
record :meth:`Transition.settings` beside the figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Transition", "AT_ONCE", "SCOPE_DEFAULT_STEPS", "InterpolationMethod", "prompt_update"]

InterpolationMethod = Literal["linear", "slerp"]
SCOPE_DEFAULT_STEPS = 4  # the transition Scope's frontend (and its num_steps default) uses


@dataclass(frozen=True)
class Transition:
    """How a prompt change is applied: at once, or blended over ``num_steps`` chunks."""

    enabled: bool = False
    num_steps: int = SCOPE_DEFAULT_STEPS
    method: InterpolationMethod = "linear"

    def settings(self) -> dict[str, Any]:
        """What a result records: ``num_steps`` 0 means the prompts were replaced at once."""
        steps = self.num_steps if self.enabled else 0
        return {"num_steps": steps, "temporal_interpolation_method": self.method if steps else None}


AT_ONCE = Transition()


def prompt_update(prompts: list[dict[str, Any]], transition: Transition) -> dict[str, Any]:
    """The data-channel form of a prompt change: ``prompts``, or a ``transition`` to them.

    Examples
    --------
    >>> prompt_update([{"text": "a fox", "weight": 1.0}], Transition(True, 4))
    {'transition': {'target_prompts': [{'text': 'a fox', 'weight': 1.0}], 'num_steps': 4, 'temporal_interpolation_method': 'linear'}}
    """
    if transition.enabled and transition.num_steps > 0:
        return {"transition": {"target_prompts": prompts, "num_steps": transition.num_steps,
                               "temporal_interpolation_method": transition.method}}
    return {"prompts": prompts}
