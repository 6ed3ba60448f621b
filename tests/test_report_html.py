"""The HTML report and ``lab report``: self-contained, labelled, and the log updated once."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from lab.cli import main
from lab.logbook import TEMPLATE
from lab.report.writer import write_report
from tests.fixtures import PIPELINES_RUN, VACE_RUN, copy_runs

pytestmark = pytest.mark.slow  # runs notebook kernels or renders reports: `make check` leaves it out


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, str]:
    """The fixture runs reported through the CLI, as ``make demo`` does: (runs, log, html, stdout)."""
    root = tmp_path_factory.mktemp("report")
    out = copy_runs(root / "results")
    log = root / "research-log.md"
    log.write_bytes(TEMPLATE.read_bytes())
    html = out / "report.html"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(["report", "--out", str(out), "--log", str(log), "--html", str(html)]) == 0
    return out, log, html, stdout.getvalue()


def test_report_is_self_contained(reported: tuple[Path, Path, Path, str]) -> None:
    _, _, html, _ = reported
    page = html.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", page)
    assert "<script" not in page and "<link" not in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 6 and all(len(image) > 10_000 for image in images)


def test_report_has_tables_answers_and_manifest_summary(reported: tuple[Path, Path, Path, str]) -> None:
    _, _, html, _ = reported
    page = html.read_text()
    assert '<p class="banner">SIMULATED' in page
    for title in ("Pipeline VACE Compatibility", "Performance Observations", "Models", "Questions the data answers"):
        assert f"<h2>{title}</h2>" in page
    assert "<td>Steady FPS</td><td>-</td><td>SIMULATED: longlive 10.3 fps [9.7–10.6] n=3;" in page
    assert PIPELINES_RUN in page and VACE_RUN in page
    assert "<td>0.2.4 SIMULATED</td>" in page and "9 run, 0 skipped; 3 loads (naive 9)" in page
    assert "<strong>Is the API structure identical to Daydream hosted API?</strong> → <strong>No</strong>" in page
    assert "<h2>Scope and Daydream&#39;s hosted API: operations</h2>" in page  # generated from both documents
    assert "<td><code>PATCH /v1/streams/{id}</code> (updateStream)</td>" in page
    assert "Generation quality at 512×512?</strong>" not in page  # asked, but these runs are not scored
    assert "Generation quality at 512×512?" in page.split("Not answered by these runs")[1]


def test_each_run_gets_its_own_report_and_plots(reported: tuple[Path, Path, Path, str]) -> None:
    out, _, html, stdout = reported
    for run in (PIPELINES_RUN, VACE_RUN):
        assert (out / run / "report.html").stat().st_size > 50_000
        assert {p.suffix for p in (out / run / "plots").iterdir()} == {".png", ".svg"}
    assert (out / PIPELINES_RUN / "plots" / "fps_per_pipeline.svg").exists()
    assert not (out / PIPELINES_RUN / "plots" / "vace_overhead.png").exists()  # no VACE conditions in that run
    assert f"report {html}" in stdout and "[SIMULATED]" in stdout
    assert "research log" in stdout and "12 questions answered" in stdout


def test_the_log_is_updated_and_a_second_report_leaves_it_alone(reported: tuple[Path, Path, Path, str]) -> None:
    out, log, _, _ = reported
    first = log.read_bytes()
    assert first != TEMPLATE.read_bytes() and b"| Warm-up time | 15-25s | SIMULATED:" in first
    outcome = write_report(None, out, log=log, per_run=False)
    assert outcome.log_update is not None and not outcome.log_update.changed
    assert log.read_bytes() == first
    assert "already up to date" in outcome.describe()


def test_report_errors_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = copy_runs(tmp_path / "results", PIPELINES_RUN)
    assert main(["report", PIPELINES_RUN, "--out", str(out), "--log", str(tmp_path / "nope.md")]) == 2
    assert "Copy the template first" in capsys.readouterr().err
    assert main(["report", "20991231T000000Z-000000", "--out", str(out)]) == 2
    assert "No run" in capsys.readouterr().err
    assert main(["report", "--out", str(tmp_path / "empty")]) == 2
    assert "No runs" in capsys.readouterr().err


def test_a_run_where_nothing_measured_still_reports(tmp_path: Path) -> None:
    """Every trial failed (say the pod ran out of memory): tables keep the log's text, the report says why."""
    out = copy_runs(tmp_path / "results", PIPELINES_RUN)
    path = out / PIPELINES_RUN / "trials.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        row |= {"status": "error", "figures": {}, "error": {"class": "PipelineLoadError", "phase": "load",
                                                           "message": "load ended in error"}}
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    log = tmp_path / "log.md"
    log.write_bytes(TEMPLATE.read_bytes())
    outcome = write_report([PIPELINES_RUN], out, log=log, html=tmp_path / "r.html")
    text = log.read_text()
    assert "| Warm-up time | 15-25s | TBD |" in text  # nothing measured: the cell keeps its text
    assert "Real-time viability for demo? →" not in text
    page = (tmp_path / "r.html").read_text()
    assert "Trials that did not measure" in page and "PipelineLoadError in load" in page
    assert outcome.plots == []  # nothing to plot, no empty pictures
