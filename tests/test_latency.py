"""Stamped latency joins and frame accounting on constructed data."""

from __future__ import annotations

import pandas as pd
import pytest

from lab.measure.latency import join_stamped, latency_figures, stamp_accounting
from lab.sources import FrameRecord

MS = 1_000_000


def received(ids: list[int | None], delay_ms: float = 200.0, bias_ms: float = 66.0) -> pd.DataFrame:
    complete = [int((i if i is not None else 0) * 66.7 * MS + delay_ms * MS) for i in ids]
    return pd.DataFrame({
        "seq": range(len(ids)),
        "stamp_id": pd.array(ids, dtype="Int64"),
        "complete_ns": complete,
        "decoded_ns": [c + int(bias_ms * MS) for c in complete],
    })


def sent(n: int) -> list[FrameRecord]:
    return [FrameRecord(i, i * 6000, int(i * 66.7 * MS)) for i in range(n)]


def test_join_gives_exact_latency_and_bias() -> None:
    joined = join_stamped(received([0, 1, 2, None, 4]), sent(5))
    assert joined["latency_ms"].dropna().round(6).tolist() == [200.0] * 4
    assert pd.isna(joined["latency_ms"][3])
    assert joined["receive_bias_ms"].round(6).unique().tolist() == [66.0]


def test_accounting_counts_each_kind() -> None:
    acc = stamp_accounting(pd.Series(pd.array([0, 1, 1, 3, 2, None, 6], dtype="Int64")))
    assert (acc.received, acc.readable, acc.unreadable) == (7, 6, 1)
    assert (acc.unseen, acc.repeated, acc.reordered) == (2, 1, 1)  # 4 and 5 unseen; 1 twice; 3 -> 2


def test_accounting_with_nothing_readable() -> None:
    acc = stamp_accounting(pd.Series(pd.array([None, None], dtype="Int64")))
    assert (acc.readable, acc.unreadable, acc.unseen) == (0, 2, 0)


def test_latency_figures_use_first_arrival_of_each_id() -> None:
    frames = received(list(range(50)))
    repeat = frames.iloc[[10]].assign(complete_ns=frames["complete_ns"][10] + 500 * MS)  # a re-sent picture
    joined = join_stamped(pd.concat([frames, repeat]), sent(50))
    figures = {f.name: f for f in latency_figures(joined)}
    assert figures["latency_p50"].value == pytest.approx(200.0)
    assert figures["latency_max"].value == pytest.approx(200.0) and figures["latency_max"].n == 50
    assert figures["receive_bias_p50"].value == pytest.approx(66.0)
    assert "exact per frame" in (figures["latency_p50"].note or "")
