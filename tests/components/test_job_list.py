"""The studio's job list, free of Qt: rows with progress and ETA, cancel, and ended jobs that linger briefly."""

from __future__ import annotations

from anr_studio.components.job_list import DONE_LINGER_S, FAILED_LINGER_S, JobList, format_eta
from anr_studio.components.status import JobState, JobStatus


class FakeJob:
    def __init__(self) -> None:
        self.status = JobStatus()
        self.stops = 0

    def stop(self) -> None:
        self.stops += 1
        self.status.set_state(JobState.STOPPING)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_rows_show_progress_and_cancel_stops_only_running_jobs():
    clock = Clock()
    jobs = JobList(clock)
    changes = []
    jobs.changed.connect(lambda: changes.append(1))
    a, b = FakeJob(), FakeJob()
    ka, kb = jobs.add(a, "masks"), jobs.add(b, "import clip.mp4")
    assert changes == [1, 1]
    a.status.set_state(JobState.RUNNING)
    a.status.set_progress(3, 12)
    b.status.set_state(JobState.RUNNING)
    b.status.set_progress(5, 40, "body fit")
    rows = jobs.rows()
    assert [(r.name, r.key) for r in rows] == [("masks", ka), ("import clip.mp4", kb)]
    assert rows[0].fraction == 0.25 and rows[0].text().startswith("25%")
    assert rows[1].text().startswith("body fit · 12%")
    assert [r.key for r in jobs.rows() if r.state.active] == [ka, kb]
    assert jobs.cancel(ka) and a.stops == 1
    assert jobs.rows()[0].text() == "cancelling…"
    a.status.set_state(JobState.STOPPED)
    assert not jobs.cancel(ka) and a.stops == 1  # an ended job is not stopped again
    assert jobs.rows()[0].text() == "cancelled"
    assert [r.key for r in jobs.rows() if r.state.active] == [kb]
    b.outcome = "stopped at step 7, wrote run/avatar.anr"  # a job that kept its work says how it ended
    assert jobs.rows()[1].text().startswith("body fit")  # while it runs, its progress
    b.status.set_state(JobState.STOPPED)
    assert jobs.rows()[1].text() == "stopped at step 7, wrote run/avatar.anr"


def test_ended_jobs_linger_then_go_and_failures_keep_their_first_line_longer():
    clock = Clock()
    jobs = JobList(clock)
    done, failed = FakeJob(), FakeJob()
    jobs.add(done, "keyframes")
    jobs.add(failed, "import")
    for j in (done, failed):
        j.status.set_state(JobState.RUNNING)
    done.status.set_state(JobState.FINISHED)
    failed.status.fail("clip.mp4: no person found in any of its 12 frames, expected one person in view\ndetails")
    rows = jobs.rows()
    assert [r.text() for r in rows] == ["done", "failed: clip.mp4: no person found in any of its 12 frames, expected one person in view"]
    changes = []
    jobs.changed.connect(lambda: changes.append(1))
    clock.t += DONE_LINGER_S + 0.1
    assert [r.name for r in jobs.rows()] == ["import"] and changes == [1]
    clock.t += FAILED_LINGER_S
    assert jobs.rows() == []


def test_eta_reads_as_minutes_and_seconds():
    assert format_eta(None) == "" and format_eta(float("nan")) == ""
    assert format_eta(75) == "1:15" and format_eta(3725) == "1:02:05"
    assert format_eta(0.3) == "0:01"  # rounded up: a job with work left never reads 0:00


def test_counted_work_done_reads_finishing_not_a_zero_eta():
    jobs = JobList(Clock())
    job = FakeJob()
    jobs.add(job, "keyframes")
    job.status.set_state(JobState.RUNNING)
    job.status.set_progress(4, 4)
    assert jobs.rows()[0].text() == "100% · finishing…"
