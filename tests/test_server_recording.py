"""A trial's server-side recording (``record_server`` / ``lab measure --record-server``).

The recording must be the server's view of the whole session: it starts when the session
opens, so the stamps read from its frames are exactly the first frames the simulator sent
(its truth, in send order), and the trial's ``server_recorded_frames`` is their count. A
server that refuses to record does not fail the trial: the figure has no value and says why.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from lab.cli import EXIT_OK, main
from lab.client import ScopeClient
from lab.measure.run import run_trial
from lab.measure.spec import TrialSpec
from lab.store import list_runs, read_rows
from lab.sweep import load_spec, run_sweep
from tests.conftest import SimControl
from tests.test_accuracy import last_truth
from tests.test_sim_session_capture import decode_mp4

pytestmark = pytest.mark.slow  # streams in real time


def test_measure_saves_the_server_recording_of_the_whole_session(sim: SimControl, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "server.mp4"
    code = main(["measure", sim.url, "--pipeline", "passthrough", "--duration", "2", "--record-server", str(saved)])
    out = capsys.readouterr().out
    assert code == EXIT_OK and f"the server's recording of the session: {saved}" in out
    ids, _ = decode_mp4(saved.read_bytes())
    sent_ids = pd.DataFrame(last_truth(sim)["frames"])["input_stamp_id"].astype(int).tolist()
    assert len(ids) > 20 and ids == sent_ids[: len(ids)], "the recording is not the session's first frames"
    assert "server_recorded_frames" in out


async def test_a_refused_recording_is_a_figure_without_value(client: ScopeClient, sim: SimControl) -> None:
    sim.fault("http_error", status=500, paths=["/api/v1/recordings/"], count=1)
    result = await run_trial(client, TrialSpec("passthrough", duration_s=1.5, record_server=True))
    assert result.error is None, result.error
    figure = result.figure("server_recorded_frames")
    assert figure.value is None and "no server recording" in figure.warnings[0] and "500" in figure.warnings[0]
    assert result.figure("latency_p50").value is not None  # the trial itself is whole


async def test_a_sweep_keeps_each_session_recording_under_its_last_trial(sim: SimControl, tmp_path: Path) -> None:
    spec = load_spec({"duration_s": 1.5, "settle_timeout_s": 1.0, "repeats": 1, "pipelines": ["passthrough"],
                      "runtime": {"noise_scale": [0.3, 0.7]}, "record_server": True})
    await run_sweep(spec, targets=[sim.url], out_dir=tmp_path, progress=False)
    (run,) = list_runs(tmp_path)
    rows = sorted(read_rows(run / "trials.jsonl"), key=lambda row: row["segment"])
    assert [row["status"] for row in rows] == ["ok", "ok"]
    assert sorted(p.name for p in (run / "recordings").iterdir()) == [f"{rows[-1]['trial_id']}.mp4"]
    ids, _ = decode_mp4((run / "recordings" / f"{rows[-1]['trial_id']}.mp4").read_bytes())
    assert rows[-1]["figures"]["server_recorded_frames"]["value"] == len(ids) > 0
    assert "server_recorded_frames" not in rows[0]["figures"]  # one recording per session
