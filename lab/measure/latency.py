"""Frame latency from stamps: join what was sent with what came back, frame by frame.

For pipelines that keep the input picture (passthrough, gray, ...), each input frame
carries its id (:mod:`lab.stamp`); the id read back from an output frame says
exactly which input it is, so its latency is exact:

- ``latency_ms`` = output ``complete_ns`` (last RTP packet of the output frame arrived)
  minus the input frame's ``sent_ns`` (the source handed it to the WebRTC sender);
- ``receive_bias_ms`` = ``decoded_ns - complete_ns``: the extra delay of aiortc's jitter
  buffer (about one frame interval), reported and never included in ``latency_ms``.

Frame accounting from ids (between the first and last id read back): ``unseen`` ids were
sent but never came back, ``repeated`` came back more than once (a paused or re-sent
picture), ``reordered`` came back with a smaller id than the one before, and
``unreadable`` output frames carried no readable stamp (the decoder refuses rather than
guesses). An unseen id is not a loss: Scope samples each chunk's input frames from its
queue and skips the rest when the pipeline is slower than its input, drops new frames from
its full queues, and a generative pipeline may repaint a stamp past reading.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from lab.stats import Figure, percentile_figure
from lab.sources import FrameRecord

__all__ = ["StampAccounting", "join_stamped", "stamp_accounting", "latency_figures"]


@dataclass(frozen=True)
class StampAccounting:
    """How the ids read back compare with the ids sent."""

    received: int
    readable: int
    unreadable: int
    unseen: int
    repeated: int
    reordered: int


def join_stamped(frames: pd.DataFrame, sent: Iterable[FrameRecord]) -> pd.DataFrame:
    """Add ``sent_ns``, ``latency_ms`` and ``receive_bias_ms`` to received frames by stamp id.

    ``frames`` needs ``stamp_id`` (nullable int), ``complete_ns`` and ``decoded_ns``.
    Frames whose stamp is unreadable or unknown get NaN latency.
    """
    sent_by_id = pd.Series({r.frame_id: r.sent_ns for r in sent}, dtype="Int64")
    out = frames.copy()
    out["sent_ns"] = out["stamp_id"].map(sent_by_id).astype("Int64")
    out["latency_ms"] = (out["complete_ns"] - out["sent_ns"]).astype("Float64") / 1e6
    out["receive_bias_ms"] = (out["decoded_ns"] - out["complete_ns"]) / 1e6
    return out


def stamp_accounting(stamp_ids: pd.Series) -> StampAccounting:
    """Count unseen, repeated, reordered and unreadable frames from the ids read back."""
    readable = stamp_ids.dropna().astype(np.int64).to_numpy()
    if readable.size == 0:
        return StampAccounting(int(stamp_ids.size), 0, int(stamp_ids.size), 0, 0, 0)
    expected = int(readable.max() - readable.min() + 1)
    unique = np.unique(readable)
    return StampAccounting(
        received=int(stamp_ids.size),
        readable=int(readable.size),
        unreadable=int(stamp_ids.size - readable.size),
        unseen=expected - int(unique.size),
        repeated=int(readable.size - unique.size),
        reordered=int((np.diff(readable) < 0).sum()),
    )


def latency_figures(joined: pd.DataFrame, *, prefix: str = "latency") -> list[Figure]:
    """p50, p95 and max latency (ms) of the first arrival of each stamped frame, and the bias."""
    first = joined.dropna(subset=["latency_ms"]).drop_duplicates(subset=["stamp_id"], keep="first")
    latency = first["latency_ms"].to_numpy(dtype=float)
    bias = first["receive_bias_ms"].to_numpy(dtype=float)
    note = "stamped input, exact per frame; arrival = last RTP packet of the output frame"
    return [
        replace(percentile_figure(f"{prefix}_p50", latency, 50, "ms"), note=note),
        percentile_figure(f"{prefix}_p95", latency, 95, "ms"),
        Figure(f"{prefix}_max", float(latency.max()) if latency.size else None, "ms", int(latency.size)),
        percentile_figure("receive_bias_p50", bias, 50, "ms", ci=False),
    ]
