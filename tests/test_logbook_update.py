"""Updating the research log in place: only managed parts change, twice changes nothing,
human edits survive, and only questions the data answers get ticked."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from pathlib import Path

import pytest

from lab.logbook import TEMPLATE, LogbookError, ServerRuns, update_log
from lab.logbook.markdown import AnswerLine, TableBlock, update_markdown
from lab.logbook.tables import MODELS_HEADER, PERFORMANCE_HEADER, VACE_HEADER
from tests.fixtures import PIPELINES_RUN, RUNS, VACE_RUN, copy_runs

SEED = TEMPLATE.read_bytes()
TICKED = re.compile(r"^\s*- \[x\] (.*?)(?: → |$)")


@pytest.fixture(scope="module")
def server_runs() -> ServerRuns:
    return ServerRuns.load(None, RUNS)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "research-log.md"
    path.write_bytes(SEED)
    return path


def _managed_lines(text: str) -> set[int]:
    """Indexes of the template's lines that an update may change: its three tables and open questions."""
    lines = text.split("\n")
    managed: set[int] = set()
    headers = {"| " + " | ".join(h) + " |" for h in (VACE_HEADER, PERFORMANCE_HEADER, MODELS_HEADER)}
    for index, line in enumerate(lines):
        if re.sub(r"\s*\|\s*", " | ", line).strip() in {re.sub(r"\s*\|\s*", " | ", h).strip() for h in headers}:
            end = index
            while end < len(lines) and lines[end].startswith("|"):
                managed.add(end)
                end += 1
        if line.lstrip().startswith("- [ ]"):
            managed.add(index)
    return managed


def _ticked(text: str) -> set[str]:
    return {m.group(1) for line in text.split("\n") if (m := TICKED.match(line))}


def test_only_managed_lines_change_and_the_rest_is_byte_for_byte(log: Path, server_runs: ServerRuns) -> None:
    result = update_log(log, server_runs)
    assert result.changed and result.tables == ["vace-compatibility", "performance", "models"]
    old, new = SEED.decode().split("\n"), log.read_text().split("\n")
    managed = _managed_lines(SEED.decode())
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag != "equal":
            assert set(range(i1, i2)) <= managed, f"unmanaged lines changed: {old[i1:i2]}"
    # and the managed ones are marked, so the next update finds them wherever they are
    assert log.read_text().count("<!-- scope-lab:begin ") == 3
    assert "| Warm-up time | 15-25s | SIMULATED: longlive 8.49 s;" in log.read_text()


def test_second_update_changes_nothing(log: Path, server_runs: ServerRuns) -> None:
    update_log(log, server_runs)
    first = log.read_bytes()
    stat = log.stat()
    result = update_log(log, server_runs)
    assert not result.changed
    assert log.read_bytes() == first
    assert log.stat().st_mtime_ns == stat.st_mtime_ns  # not even rewritten


def test_human_edits_outside_and_inside_human_columns_survive(log: Path, server_runs: ServerRuns) -> None:
    update_log(log, server_runs)
    text = log.read_text()
    text = text.replace("## Workshop Notes\n", "## Workshop Notes\nZ: tried the avatar today, looks great.\n")
    text = text.replace("| Warm-up time | 15-25s |", "| Warm-up time | 12-20s (re-measured) |")
    text = text.replace("- [ ] Generation quality at 512×512?", "- [x] Generation quality at 512×512? → good (by eye)")
    log.write_text(text)
    result = update_log(log, server_runs)
    assert not result.changed  # nothing managed differs, so the file is left alone
    assert log.read_text() == text
    updated = log.read_text()
    assert "Z: tried the avatar today, looks great." in updated
    assert "| Warm-up time | 12-20s (re-measured) | SIMULATED:" in updated
    assert "- [x] Generation quality at 512×512? → good (by eye)\n" in updated


def test_edits_inside_a_managed_cell_are_replaced_from_the_data(log: Path, server_runs: ServerRuns) -> None:
    update_log(log, server_runs)
    expected = log.read_bytes()
    log.write_text(log.read_text().replace("| `gray` | N/A |", "| `gray` | maybe |"))
    assert update_log(log, server_runs).changed
    assert log.read_bytes() == expected


def test_crlf_line_endings_are_kept(tmp_path: Path, server_runs: ServerRuns) -> None:
    path = tmp_path / "log.md"
    path.write_bytes(SEED.replace(b"\n", b"\r\n"))
    update_log(path, server_runs)
    data = path.read_bytes()
    assert b"scope-lab:begin" in data
    assert data.count(b"\n") == data.count(b"\r\n")  # no bare \n was introduced


def test_answers_tick_only_what_the_data_supports(log: Path, server_runs: ServerRuns) -> None:
    before = _ticked(SEED.decode())
    result = update_log(log, server_runs)
    after = _ticked(log.read_text())
    assert after - before == {
        "Is the API structure identical to Daydream hosted API?", "Does WHIP work the same way?",
        "What's in the Swagger UI (`/docs`)?", "What's the latency impact of VACE?", "Latency impact?",
        "How to provide reference images?", "RunPod warm-up time?", "Real-time viability for demo?",
        "Is SAM3 available as a pipeline module?", "Does Scope expose segmentation or alpha output?",
        "Spout output complexity (future, optional)?", "Can we reuse Nexus patterns?",
    }
    assert before <= after  # what a human ticked stays ticked
    text = log.read_text()
    assert "- [ ] Generation quality at 512×512?" in text  # judged by eye, never by the data
    assert "- [ ] Consistency quality?" in text
    assert "- [ ] First stream creation test" in text
    assert len(set(result.answered)) == 12
    line = next(line for line in text.split("\n") if line.startswith("- [x] Is the API structure"))
    assert line.endswith("<!-- scope-lab:answer api-hosted -->")
    assert "**No**" in line and PIPELINES_RUN in line and "SIMULATED" in line
    realtime = next(line for line in text.split("\n") if "Real-time viability" in line)
    # judged on the pipeline that generates; the CPU ones keep up, but draw nothing new
    assert "**No** at a 15 fps threshold (generative pipelines" in realtime
    assert "too slow: longlive 10.3 fps" in realtime and "real-time: passthrough" not in realtime
    assert "not judged, no video generation: passthrough (no prompts and no models), gray (a preprocessor)" in realtime


def test_without_the_api_block_or_a_vace_sweep_those_questions_stay_open(tmp_path: Path, log: Path) -> None:
    out = copy_runs(tmp_path / "runs", PIPELINES_RUN)
    path = out / PIPELINES_RUN / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["servers"]["sim"]["api"]
    path.write_text(json.dumps(manifest))
    update_log(log, ServerRuns.load(None, out))
    ticked = _ticked(log.read_text()) - _ticked(SEED.decode())
    assert ticked == {"RunPod warm-up time?", "Real-time viability for demo?",
                      "Is SAM3 available as a pipeline module?", "Does Scope expose segmentation or alpha output?",
                      "Spout output complexity (future, optional)?",  # from the hardware block, not the API one
                      "Can we reuse Nexus patterns?"}  # from the two APIs' schemas


def test_a_higher_threshold_changes_the_realtime_answer(log: Path, server_runs: ServerRuns) -> None:
    update_log(log, server_runs, realtime_fps=5)
    line = next(line for line in log.read_text().split("\n") if "Real-time viability" in line)
    assert "**Yes** at a 5 fps threshold" in line


def test_a_real_local_server_does_not_answer_the_runpod_question(tmp_path: Path, log: Path) -> None:
    out = copy_runs(tmp_path / "runs", PIPELINES_RUN)
    path = out / PIPELINES_RUN / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["simulated"] = False
    manifest["servers"]["sim"] |= {"simulated": False, "api": {**manifest["servers"]["sim"]["api"], "target_kind": "url"}}
    path.write_text(json.dumps(manifest))
    result = update_log(log, ServerRuns.load(None, out))
    assert "runpod-warmup" not in result.answered and "realtime" in result.answered
    assert "SIMULATED" not in log.read_text().split("## Questions to Explore")[1]


def test_missing_table_is_reported_and_nothing_else_changes() -> None:
    text = "# Log\n\nno tables here\n- [ ] Is SAM3 available as a pipeline module?\n"
    block = TableBlock("models", ("Pipeline ID", "Status", "Description"), lambda rows: ([["a", "b", "c"]], ""))
    new, result = update_markdown(text, [block], [])
    assert new == text and result.missing_tables == ["models"] and not result.changed
    answer = AnswerLine("sam3", "Is SAM3 available as a pipeline module?", "**No**", "")
    new, result = update_markdown(text, [], [answer])
    assert new == text.replace("- [ ] Is SAM3 available as a pipeline module?",
                               "- [x] Is SAM3 available as a pipeline module? → **No** <!-- scope-lab:answer sam3 -->")


def test_a_table_moved_by_hand_is_found_by_its_markers(log: Path, server_runs: ServerRuns) -> None:
    update_log(log, server_runs)
    text = log.read_text()
    start = text.index("<!-- scope-lab:begin models")
    end = text.index("<!-- scope-lab:end models -->") + len("<!-- scope-lab:end models -->\n")
    block = text[start:end]
    moved = (text[:start] + text[end:]).replace("## Notes\n", "## Notes\n" + block)
    log.write_text(moved)
    assert not update_log(log, server_runs).changed
    assert log.read_text() == moved


def test_missing_log_file_says_where_the_template_is(tmp_path: Path, server_runs: ServerRuns) -> None:
    with pytest.raises(LogbookError, match=re.escape(f"cp {TEMPLATE} ")):
        update_log(tmp_path / "nope.md", server_runs)


# SHA-256 of the team's research log as handed over: the template must stay a verbatim copy.
SEED_SHA256 = "611f89fa5375e45529a93747f5f85787b97457d4c830c2d9f3109f950c93e95d"


def test_template_is_the_seed_log() -> None:
    assert hashlib.sha256(SEED).hexdigest() == SEED_SHA256
    assert b"| Warm-up time | 15-25s | TBD |" in SEED


def test_vace_run_evidence_cites_the_vace_run(log: Path) -> None:
    update_log(log, ServerRuns.load([VACE_RUN], RUNS))
    line = next(line for line in log.read_text().split("\n") if "What's the latency impact of VACE?" in line)
    assert line.startswith("- [x]") and VACE_RUN in line and "+568 ms" in line


def _cold_start_run(out: Path, *, simulated: bool = True, speed: float | None = None,
                    run_id: str | None = None) -> str:
    """A pod-warmup run as lab.pods.timeline writes it (stages in seconds after the start request)."""
    from lab.store import RunStore

    stages = [("pod_running", 12.0), ("proxy_answering", 12.0), ("scope_healthy", 30.0), ("models_present", 150.0),
              ("pipeline_loaded", 180.0), ("first_frame", 182.5), ("steady_output", 186.0)]
    rows, before = [], 0.0
    for name, at_s in stages:
        rows.append({"name": name, "at_s": at_s, "took_s": at_s - before, "resolution_s": 0.5,
                     "note": "downloaded in 120 s" if name == "models_present" else ""})
        before = at_s
    store = RunStore.create(out, {"kind": "pod-warmup", "pipeline_id": "longlive", "simulated": simulated,
                                  "status": "complete", "started_at": "2026-11-29T09:00:00+00:00", "stages": rows,
                                  "pod": {"id": "scopesim01", "gpu": "RTX 5090", "cost_per_h": 0.89},
                                  "settings": {"simulator_speed": speed}}, run_id)
    return store.run_id


def test_a_measured_cold_start_answers_the_runpod_question_with_every_stage(tmp_path: Path, log: Path) -> None:
    out = copy_runs(tmp_path / "runs", PIPELINES_RUN)
    run_id = _cold_start_run(out)
    update_log(log, ServerRuns.load(None, out))
    line = next(line for line in log.read_text().split("\n") if "RunPod warm-up time?" in line)
    assert "**Start request to steady output: 186.00 s** on pod scopesim01 (RTX 5090, $0.89/h), longlive" in line
    assert ("pod boot 30.00 s (container up at 12.00 s, proxy past its starting page at 12.00 s, /health at "
            "30.00 s) + models 120.00 s (downloaded in 120 s) + load 30.00 s + first frame 2.50 s + warm-up 3.50 s") in line
    assert f"(run `{run_id}`, 2026-11-29, SIMULATED)" in line
    _cold_start_run(out, speed=10.0, run_id="29991231T000000Z-c01d00")  # newer: its waits ran 10x faster
    update_log(log, ServerRuns.load(None, out))
    line = next(line for line in log.read_text().split("\n") if "RunPod warm-up time?" in line)
    assert "SIMULATED; the simulator's boot, downloads and loads ran 10x faster than its real-time profile)" in line


def test_a_cold_start_of_the_other_kind_of_server_does_not_answer(tmp_path: Path, log: Path) -> None:
    out = copy_runs(tmp_path / "runs", PIPELINES_RUN)
    _cold_start_run(out, simulated=False)  # a real pod's cold start beside simulated sweeps
    update_log(log, ServerRuns.load(None, out))
    line = next(line for line in log.read_text().split("\n") if "RunPod warm-up time?" in line)
    assert "**Load request to steady output**" in line and "Start request" not in line
