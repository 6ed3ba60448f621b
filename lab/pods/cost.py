"""What pod time costs: a target's price per hour from its own pod (:class:`PodPrice`), a
sweep's bill (:func:`pod_bill`), and what is done with the pod when the sweep ends
(:func:`settle_pods`: stopped if asked, else a warning that it is still billed while idle),
all kept in the sweep's manifest (:func:`close_pod_bills`).

The price is the pod's own ``costPerHr``, asked of RunPod's API (``RUNPOD_API_KEY``) for a
pod target, and of the simulator's emulated account for the simulator (its home pod bills
the research log's $0.89/h, SIMULATED). A target that is not a pod, or a pod whose price
cannot be read (no key, API down), has no price; the reason says why, and nothing fails.
Pod time runs from the moment the sweep priced the pod (while planning) to the sweep's end,
whatever the sweep did meanwhile: a pod bills while it runs. A resumed sweep adds its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab.pods import get_pod, stop_pod
from lab.pods.errors import PodError
from lab.pods.locate import pod_behind
from lab.store import RESULTS_DIR, RunStore
from lab.target import Target

__all__ = ["HOSTED_UNPRICED", "PodPrice", "close_pod_bills", "dollars_text", "pod_bill", "pod_price", "settle_pods"]


@dataclass(frozen=True)
class PodPrice:
    """A target's pod and its price per hour (None, with ``why_unknown``, when not known)."""

    pod_id: str | None
    cost_per_h: float | None
    simulated: bool
    why_unknown: str | None = None
    asked_at: float = field(default_factory=time.perf_counter, repr=False, compare=False)  # the pod time's start

    def dollars(self, seconds: float) -> float | None:
        return None if self.cost_per_h is None else self.cost_per_h * seconds / 3600

    def describe(self, seconds: float) -> str:
        """``about $0.04 at $0.89/h (pod scopesim01, SIMULATED)``, or why there is no figure."""
        dollars = self.dollars(seconds)
        if dollars is None:
            return f"cost unknown: {self.why_unknown}"
        label = ", SIMULATED" if self.simulated else ""
        return f"about {dollars_text(dollars)} at ${self.cost_per_h:.2f}/h (pod {self.pod_id}{label})"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "asked_at"}


def dollars_text(dollars: float) -> str:
    """``$1.23``; under a cent, to a hundredth of one (``$0.0012``), so a short sweep is not ``$0.00``."""
    return f"${dollars:.2f}" if dollars >= 0.01 else f"${dollars:.4f}"


async def pod_price(target: Target, *, simulated: bool) -> PodPrice:
    """The price of the pod behind ``target`` (an opened client's, so ``sim`` has its URL); its
    pod time starts now."""
    asked_at = time.perf_counter()
    if target.kind in ("sim", "url") and not simulated:
        return PodPrice(None, None, False, "not a RunPod pod", asked_at)
    try:
        pod = await pod_behind(target)
        if pod is None:
            return PodPrice(None, None, simulated, "not a RunPod pod", asked_at)
        facts = await get_pod(pod.api, pod.pod_id, action="read the pod's price")
    except PodError as exc:
        return PodPrice(None, None, simulated, str(exc), asked_at)
    if facts.cost_per_h is None:
        return PodPrice(facts.id, None, facts.simulated, "RunPod's API gave no costPerHr for it", asked_at)
    return PodPrice(facts.id, float(facts.cost_per_h), facts.simulated, None, asked_at)


HOSTED_UNPRICED = "Daydream's hosted API bills by its own plan, which the workbench does not price"


def pod_bill(price: PodPrice | None, pod_s: float) -> dict[str, Any]:
    """A target's price, the pod time used and what it cost, as a sweep's manifest keeps them."""
    price = price or PodPrice(None, None, False, "not priced")
    dollars = price.dollars(pod_s)
    return {**price.as_dict(), "pod_s": round(pod_s, 2), "dollars": None if dollars is None else round(dollars, 8)}


async def close_pod_bills(store: RunStore, prices: Mapping[str, PodPrice | None], stop: bool,
                          say: Callable[[str], None]) -> None:
    """At a sweep's end: each target's bill into the manifest (``pods``; a resumed run's adds to
    the pod time already there), with what became of its pod (:func:`settle_pods`)."""
    now = time.perf_counter()
    before = store.manifest().get("pods") or {}
    bills = {target: pod_bill(price, now - price.asked_at + float((before.get(target) or {}).get("pod_s") or 0))
             if price else pod_bill(None, 0.0) for target, price in prices.items()}
    after = await settle_pods(prices, stop=stop, say=say, results_dir=store.root.parent)
    store.update_manifest(pods={target: bill | {"after": after.get(target)} for target, bill in bills.items()})


async def settle_pods(prices: Mapping[str, PodPrice | None], *, stop: bool, say: Callable[[str], None],
                      results_dir: Path | str = RESULTS_DIR) -> dict[str, str]:
    """At a sweep's end: stop each target's pod (``stop``; not while another sweep in
    ``results_dir`` still runs on it), or say that one still running is billed while idle.
    What happened to each pod, by target (kept in the manifest)."""
    outcome = {}
    for target, price in prices.items():
        if price is None or price.pod_id is None:
            continue
        try:
            pod = await pod_behind(Target.parse(target))
            if pod is None:
                continue
            if stop:
                await stop_pod(pod.api, pod.pod_id, results_dir=results_dir)  # this sweep no longer says running
                outcome[target] = "stopped"
                say(f"pod {pod.pod_id} ({target}) stopped (--stop-pod-when-done)")
            elif (await get_pod(pod.api, pod.pod_id, action="check the pod")).desired_status == "RUNNING":
                outcome[target] = "idle-billed"
                label = " (SIMULATED)" if price.simulated else ""
                say(f"pod {pod.pod_id} ({target}) is still RUNNING after the sweep and bills "
                    f"${price.cost_per_h or 0:.2f}/h while idle{label}: `lab pod stop {pod.pod_id}`, or pass "
                    "--stop-pod-when-done next time")
            else:
                outcome[target] = "stopped"
        except PodError as exc:
            outcome[target] = f"unknown: {exc}"
            say(f"could not {'stop' if stop else 'check'} the pod of {target}: {exc}")
    return outcome
