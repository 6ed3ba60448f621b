"""What a run's pod time cost, from its manifest (``pods``: each target's $/h, pod time and
dollars, written by the sweep; :mod:`lab.pods.cost`): in dollars per run and per trial."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lab.logbook.server_runs import HOSTED_KIND
from lab.pods.cost import HOSTED_UNPRICED, dollars_text

__all__ = ["run_cost"]


def run_cost(manifest: Mapping[str, Any]) -> str:
    """``$0.0042 SIMULATED, $0.0011 per trial (4 trials); sim: 17 s of pod time at $0.89/h, pod
    scopesim01 idle-billed after``, or why there is no figure."""
    bills = manifest.get("pods")
    servers = manifest.get("servers") or {}
    if not bills and servers and all(server.get("kind") == HOSTED_KIND for server in servers.values()):
        return f"no pod: {HOSTED_UNPRICED}"
    if not bills:
        return "not recorded (a run from before pod costs were kept)"
    priced = {target: bill for target, bill in bills.items() if bill.get("dollars") is not None}
    details = [f"{target}: {bill.get('pod_s', 0):.0f} s of pod time at ${bill['cost_per_h']:.2f}/h"
               + (f", pod {bill['pod_id']} {bill['after']} after" if bill.get("after") else "")
               for target, bill in priced.items()]
    details += [f"{target}: cost unknown ({bill.get('why_unknown') or 'no price'})"
                for target, bill in bills.items() if target not in priced]
    if not priced:
        return "; ".join(details)
    total = sum(float(bill["dollars"]) for bill in priced.values())
    trials = int((manifest.get("plan") or {}).get("trials") or 0)
    label = " SIMULATED" if any(bill.get("simulated") for bill in priced.values()) else ""
    per_trial = f", {dollars_text(total / trials)} per trial ({trials} trials)" if trials else ""
    return f"{dollars_text(total)}{label}{per_trial}; " + "; ".join(details)
