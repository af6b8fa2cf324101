"""The run loop around the jobs: records, Ctrl-C, resume, and the command line's errors."""

from __future__ import annotations

import io
import json

import pytest

from bench import cli, execute, results
from bench.plan import PlanOptions
from bench.results import TrialRecord
from bench.trial import JobOutcome
from bench.vocabulary import Cell


def run(state, wheelhouse):
    return execute.execute(state, wheelhouse=wheelhouse, port=0, out=io.StringIO())


def test_interrupt_keeps_finished_trials_and_resume_finishes_the_rest(fake_jobs, tmp_path):
    calls, wheelhouse = fake_jobs
    options = PlanOptions(scenarios=["pip-cache"], deps=["cli"], reps=2, seed=3)
    state = execute.start_run(options, tmp_path / "results", port=0)
    calls["interrupt_at"] = 3
    with pytest.raises(KeyboardInterrupt):
        run(state, wheelhouse)
    kept = results.read_trials(state.run_dir).records
    assert len(kept) == 2 and all(r.succeeded for r in kept)
    assert results.read_json(state.run_dir / "run.json")["status"] == "interrupted"
    assert (state.run_dir / "work").is_dir()  # snapshots stay for the resume

    calls["interrupt_at"] = None
    resumed = execute.resume_run(state.run_dir)
    assert len(resumed.done) == 2
    assert run(resumed, wheelhouse) == 0
    records = results.read_trials(state.run_dir).records
    assert sorted(r.trial_id for r in records) == sorted(t.id for t in state.trials)
    assert len({r.trial_id for r in records}) == len(records) == 6
    run_info = results.read_json(state.run_dir / "run.json")
    assert run_info["status"] == "complete" and len(run_info["resumed_at"]) == 1


def test_resume_finishes_the_auto_round_an_interrupt_cut(fake_jobs, tmp_path):
    calls, wheelhouse = fake_jobs  # every job takes 1000 ns: each cell converges at 3 trials
    options = PlanOptions(scenarios=["no-cache"], deps=["cli", "web"], reps=3, seed=5, auto=True)
    state = execute.start_run(options, tmp_path / "r", port=0)
    calls["interrupt_at"] = 4  # round 1 is two trials; round 2's second one is cut
    with pytest.raises(KeyboardInterrupt):
        run(state, wheelhouse)
    assert [r.repetition for r in results.read_trials(state.run_dir).records] == [1, 1, 2]
    calls["interrupt_at"] = None
    assert run(execute.resume_run(state.run_dir), wheelhouse) == 0
    records = results.read_trials(state.run_dir).records
    for cell in ("no-cache/cli/cold", "no-cache/web/cold"):
        rounds = sorted(r.repetition for r in records if r.trial_id.startswith(cell))
        assert rounds == [1, 2, 3], (cell, rounds)


def test_records_carry_the_documented_fields(fake_jobs, tmp_path):
    _calls, wheelhouse = fake_jobs
    state = execute.start_run(PlanOptions(deps=["cli"], reps=1, seed=1), tmp_path / "r", port=0)
    run(state, wheelhouse)
    first_line = (state.run_dir / results.TRIALS_FILE).read_text().splitlines()[0]
    record = json.loads(first_line)  # the file as written, not as read back
    for field in (
        "trial_id",
        "scenario",
        "deps",
        "state",
        "repetition",
        "order",
        "status",
        "error",
        "total_ns",
        "phases_ns",
        "wall_ns",
        "harness_ns",
        "harness_fraction",
        "priming_ns",
        "mirror_bytes",
        "cache_hit",
        "matched_keys",
        "store_after",
        "steps",
    ):
        assert field in record
    run_info = results.read_json(state.run_dir / "run.json")
    assert run_info["machine"]["cpu_count_logical"] >= 1
    assert set(run_info["machine"]["tools"]) >= {"poetry", "pipenv", "uv", "tar", "zstd"}
    assert run_info["plan"]["seed"] == 1 and run_info["profile"]["name"] == "github-hosted"


def test_cold_trials_prime_warm_ones_and_partial_ones_need_priming(fake_jobs, tmp_path):
    calls, wheelhouse = fake_jobs
    options = PlanOptions(scenarios=["pip-cache"], deps=["cli"], reps=1, seed=2)
    run(execute.start_run(options, tmp_path / "r", port=0), wheelhouse)
    assert calls["priming"] == 1  # the partial state's run on the previous revision only


def test_a_failing_trial_is_recorded_and_the_run_goes_on(fake_jobs, tmp_path):
    calls, wheelhouse = fake_jobs
    calls["fail_at"] = 1
    options = PlanOptions(scenarios=["no-cache"], deps=["cli", "web"], reps=2, seed=4)
    state = execute.start_run(options, tmp_path / "r", port=0)
    assert run(state, wheelhouse) == 1
    records = results.read_trials(state.run_dir).records
    assert len(records) == 4
    assert [r.status for r in records].count("failure") == 1
    assert records[0].error == "step 4 (Run pytest): exit code 1"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--deps", "nope"], "no dependency set 'nope'"),
        (["run", "--scenario", "nope"], "no scenario 'nope'"),
        (["run", "--states", "cold,tepid"], "unknown cache state 'tepid'"),
        (["run", "--profile", "nope"], "nope"),
        (["run", "--resume", "/nonexistent/run"], "is missing"),
        (["run", "--resume", "/nonexistent/run", "--reps", "2"], "drop the other options"),
        (["run", "--budget", "5", "--reps", "2"], "--budget goes with --reps auto"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_a_broken_workflow_is_refused_before_a_run_folder_is_made(tmp_path, capsys):
    workflow = tmp_path / "broken.yml"
    broken = "on: push\njobs:\n  t:\n    steps:\n      - run: echo ${{ runner.os == }}\n"
    workflow.write_text(broken)
    out = tmp_path / "results"
    assert cli.main(["run", "--workflow", str(workflow), "--out", str(out)]) == 2
    assert "broken.yml" in capsys.readouterr().err
    assert not out.exists()


STOPPED_CHILD = """
import signal, sys, tempfile
from pathlib import Path
from bench.runner.measure import run_measured

def interrupt(signum, frame):
    raise KeyboardInterrupt

signal.signal(signal.SIGTERM, interrupt)
print("started", flush=True)
with tempfile.TemporaryFile() as log:
    try:
        command = ["bash", "-c", "sleep 61.5 & wait"]
        run_measured(command, cwd=Path("."), env={"PATH": "/usr/bin:/bin"}, output=log)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
"""


def test_an_interrupt_stops_the_steps_whole_process_tree(tmp_path):
    import subprocess
    import sys
    import time

    child = subprocess.Popen(
        [sys.executable, "-c", STOPPED_CHILD], stdout=subprocess.PIPE, text=True, cwd="."
    )
    assert child.stdout.readline().strip() == "started"
    time.sleep(0.5)
    child.terminate()
    assert child.stdout.readline().strip() == "interrupted"
    child.wait(timeout=10)
    left = subprocess.run(["pgrep", "-f", "sleep 61.5"], capture_output=True, text=True)
    assert left.stdout.strip() == ""


def test_a_busy_mirror_port_is_refused_before_a_run_folder_is_made(tmp_path, capsys):
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(execute.BenchError, match=f"port {port} .* in use"):
            execute.ensure_port_free(port)


def test_the_report_is_written_at_the_end_and_a_summary_printed(fake_jobs, tmp_path):
    _calls, wheelhouse = fake_jobs
    options = PlanOptions(scenarios=["no-cache", "pip-cache"], deps=["cli"], reps=3, seed=5,
                          states=["cold", "warm"])  # fmt: skip
    state = execute.start_run(options, tmp_path / "r", port=0)
    out = io.StringIO()
    assert execute.execute(state, wheelhouse=wheelhouse, port=0, out=out) == 0
    printed = out.getvalue()
    for name in ("report.md", "summary.csv", "trials.csv", "figures/speedup.png"):
        assert (state.run_dir / name).is_file(), name
    assert "summary of" in printed and "cli, warm: pip-cache" in printed
    assert "95 % interval" in printed
    run_info = results.read_json(state.run_dir / "run.json")
    assert set(run_info["machine_state"]) >= {"load_average", "memory_available_bytes",
                                              "disk_free_bytes", "warnings"}  # fmt: skip
    assert run_info["stopping"]["pip-cache/cli/warm"] == "--reps 3"
    record = results.read_trials(state.run_dir).records[0]
    assert record.schema == 2 and record.machine_busy is not None and 0 <= record.machine_busy <= 1
    assert record.sync_ns > 0 and record.attempt == 1


def test_the_report_is_written_after_an_interrupt_for_what_there_is(fake_jobs, tmp_path):
    calls, wheelhouse = fake_jobs
    options = PlanOptions(scenarios=["no-cache"], deps=["cli"], reps=3, seed=5)
    state = execute.start_run(options, tmp_path / "r", port=0)
    calls["interrupt_at"] = 3
    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        execute.execute(state, wheelhouse=wheelhouse, port=0, out=out)
    text = (state.run_dir / "report.md").read_text()
    assert "status | interrupted: 2 trials" in text
    assert "fewer than 3 successful trials" in out.getvalue()  # n=2: no interval, and it says so


def test_no_sync_is_recorded_and_skips_the_flush(fake_jobs, tmp_path):
    _calls, wheelhouse = fake_jobs
    options = PlanOptions(scenarios=["no-cache"], deps=["cli"], reps=1, seed=5, sync=False)
    state = execute.start_run(options, tmp_path / "r", port=0)
    run(state, wheelhouse)
    (record,) = results.read_trials(state.run_dir).records
    assert record.sync_ns == 0
    assert results.read_json(state.run_dir / "plan.json")["sync"] is False


def test_auto_repetitions_stop_when_every_cell_converged(fake_jobs, tmp_path):
    _calls, wheelhouse = fake_jobs  # every job takes exactly 1000 ns: converged at once
    options = PlanOptions(scenarios=["no-cache"], deps=["cli", "web"], reps=3, seed=5, auto=True)
    state = execute.start_run(options, tmp_path / "r", port=0)
    run(state, wheelhouse)
    assert len(results.read_trials(state.run_dir).records) == 6  # three rounds, no more
    stopping = results.read_json(state.run_dir / "run.json")["stopping"]
    assert stopping == {"no-cache/cli/cold": "converged", "no-cache/web/cold": "converged"}


def test_auto_repetitions_go_on_for_a_noisy_cell_until_the_budget(fake_jobs, monkeypatch, tmp_path):
    _calls, wheelhouse = fake_jobs
    noisy = iter([1_000, 3_000, 9_000] * 100)

    def run_job(workflow, deps, **_kwargs):
        return JobOutcome(True, None, [], job_ns=next(noisy), wall_ns=2_000, outputs={})

    monkeypatch.setattr(execute, "run_job", run_job)
    clock = iter(range(0, 10_000, 60))  # each reading one minute later
    monkeypatch.setattr(execute, "budget_clock", lambda: next(clock))
    options = PlanOptions(scenarios=["no-cache"], deps=["cli"], reps=3, seed=5, auto=True,
                          budget_min=6)  # fmt: skip
    state = execute.start_run(options, tmp_path / "r", port=0)
    run(state, wheelhouse)
    records = results.read_trials(state.run_dir).records
    # more rounds than three; the sixth would start at 6 min, inside the finishing reserve
    assert len(records) == 5
    stopping = results.read_json(state.run_dir / "run.json")["stopping"]
    assert stopping == {"no-cache/cli/cold": "budget spent"}


def test_a_trial_that_would_overrun_the_budget_is_not_started(fake_jobs, monkeypatch, tmp_path):
    _calls, wheelhouse = fake_jobs
    now = [0.0]
    monkeypatch.setattr(execute, "budget_clock", lambda: now[0])

    def run_job(workflow, deps, **_kwargs):
        now[0] += {"web": 100.0, "cli": 10.0}[deps.name]
        return JobOutcome(True, None, [], job_ns=10**9, wall_ns=2_000, outputs={})

    def expected_seconds(_records, cell):
        return {"web": 100.0, "cli": 10.0}[cell.deps]

    monkeypatch.setattr(execute, "run_job", run_job)
    monkeypatch.setattr(execute, "_expected_seconds", expected_seconds)
    options = PlanOptions(scenarios=["no-cache"], deps=["cli", "web"], reps=3, seed=5,
                          auto=True, budget_min=4.5)  # fmt: skip
    state = execute.start_run(options, tmp_path / "r", port=0)
    run(state, wheelhouse)
    records = results.read_trials(state.run_dir).records
    # 270 s less the 30 s reserve: two rounds (220 s), then only cli's 10 s trial still fits
    assert sorted((r.deps, r.repetition) for r in records) == [
        ("cli", 1),
        ("cli", 2),
        ("cli", 3),
        ("web", 1),
        ("web", 2),
    ]
    assert now[0] <= 270 - execute.FINISH_RESERVE_S
    stopping = results.read_json(state.run_dir / "run.json")["stopping"]
    assert stopping == {"no-cache/cli/cold": "budget spent", "no-cache/web/cold": "budget spent"}


def test_the_budget_can_count_from_before_the_run(fake_jobs, monkeypatch, tmp_path):
    """advise's intake and history replay come out of its budget: begun 100 s earlier, a
    270-s budget leaves 140 s of trials after the 30-s reserve."""
    _calls, wheelhouse = fake_jobs
    now = [0.0]
    monkeypatch.setattr(execute, "budget_clock", lambda: now[0])

    seconds = {"web": 100.0, "cli": 10.0}

    def run_job(workflow, deps, **_kwargs):
        now[0] += seconds[deps.name]
        return JobOutcome(True, None, [], job_ns=10**9, wall_ns=2_000, outputs={})

    monkeypatch.setattr(execute, "run_job", run_job)
    monkeypatch.setattr(execute, "_expected_seconds", lambda _records, cell: seconds[cell.deps])
    options = PlanOptions(scenarios=["no-cache"], deps=["cli", "web"], reps=3, seed=5,
                          auto=True, budget_min=4.5)  # fmt: skip
    state = execute.start_run(options, tmp_path / "r", port=0)
    execute.execute(state, wheelhouse=wheelhouse, port=0, out=io.StringIO(), budget_since=-100.0)
    records = results.read_trials(state.run_dir).records
    assert sorted((r.deps, r.repetition) for r in records) == [("cli", 1), ("cli", 2), ("web", 1)]
    assert now[0] <= 270 - 100 - execute.FINISH_RESERVE_S


def test_a_cells_expected_time_is_its_longest_trial_with_its_chores():
    def record(deps, wall_s, cleanup_s):
        return TrialRecord(run_id="r", trial_id=f"no-cache/{deps}/cold/1", scenario="no-cache",
                           workflow="w", job="test", matrix={}, deps=deps, state="cold",
                           repetition=1, order=1, status="success", total_ns=0,
                           wall_ns=int(wall_s * 1e9),
                           cleanup_ns=int(cleanup_s * 1e9))  # fmt: skip

    records = [record("cli", 3, 1), record("cli", 5, 0.5), record("web", 60, 1)]
    assert execute._expected_seconds(records, Cell("cli", "no-cache", "cold")) == 5.5
    assert execute._expected_seconds(records, Cell("cli", "uv", "warm")) == 5.5  # its set's
    assert execute._expected_seconds(records, Cell("native", "no-cache", "cold")) == 0.0


def test_auto_repetitions_stop_a_cell_far_behind_after_one_trial(fake_jobs, monkeypatch,
                                                                  tmp_path):  # fmt: skip
    _calls, wheelhouse = fake_jobs

    def run_job(workflow, deps, *, log_name, **_kwargs):
        seconds = 20 if log_name.startswith(("no-cache", "pip-cache")) else 3  # far behind
        return JobOutcome(True, None, [], job_ns=seconds * 10**9, wall_ns=2_000, outputs={})

    monkeypatch.setattr(execute, "run_job", run_job)
    options = PlanOptions(scenarios=["no-cache", "pip-cache", "uv", "venv-cache", "setup-uv"],
                          deps=["cli"],
                          states=["cold"], reps=3, seed=5, auto=True)  # fmt: skip
    state = execute.start_run(options, tmp_path / "r", port=0)
    run(state, wheelhouse)
    records = results.read_trials(state.run_dir).records
    assert [r.repetition for r in records if r.scenario == "pip-cache"] == [1]
    assert sorted(r.repetition for r in records if r.scenario == "uv") == [1, 2, 3]
    # the reference cell is as slow, but every speed-up needs its interval
    assert sorted(r.repetition for r in records if r.scenario == "no-cache") == [1, 2, 3]
    stopping = results.read_json(state.run_dir / "run.json")["stopping"]
    assert stopping["pip-cache/cli/cold"] == "out of contention"
    assert stopping["uv/cli/cold"] == "converged"


def test_retry_busy_runs_a_busy_trial_again_at_the_end_of_its_round(fake_jobs, monkeypatch,
                                                                     tmp_path):  # fmt: skip
    _calls, wheelhouse = fake_jobs
    readings = iter([0.9] + [0.0] * 20)

    class Meter:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.busy = next(readings)

    monkeypatch.setattr(execute, "BusyMeter", Meter)
    options = PlanOptions(scenarios=["no-cache"], deps=["cli", "web"], reps=1, seed=5,
                          retry_busy=True)  # fmt: skip
    state = execute.start_run(options, tmp_path / "r", port=0)
    run(state, wheelhouse)
    records = results.read_trials(state.run_dir).records
    assert [r.attempt for r in records] == [1, 1, 2]
    assert records[2].trial_id == records[0].trial_id and records[2].order > records[1].order
    assert len(results.latest_attempts(records)) == 2


def test_a_job_on_another_python_also_gets_the_runners_own_tools(tmp_path, monkeypatch):
    """pipx, and the poetry it installs, run on the image's Python whatever the job sets up:
    their pins go to the wheelhouse for that Python too (a fresh machine's wheelhouse lacked
    them, and ``pipx install poetry`` failed there)."""
    compiled = []

    def fake_compile(source, out, target):
        compiled.append((source.name, target.python_version))
        return out

    monkeypatch.setattr(execute, "compile_file", fake_compile)
    job_python = execute.Target(python_version="3.9")
    pairs = execute.wheelhouse_requirements([], tmp_path, job_python)
    shipped = sorted((execute.SCENARIOS_ROOT / "tools").glob("*.txt"))
    assert {name for name, _ in compiled} == {p.with_suffix(".in").name for p in shipped}
    assert all(python == "3.9" for _, python in compiled)
    assert [(p, "3.11") for p in shipped] == [pair for pair in pairs if pair[1] == "3.11"]
    assert any(p.name == "requirements.txt" and "pipx==" in p.read_text() for p in shipped)
    assert execute.wheelhouse_requirements([], tmp_path) == [(p, "3.11") for p in shipped]
