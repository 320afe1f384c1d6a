"""Progress of SRL jobs: a bar on a terminal, periodic one-line log records otherwise."""

from __future__ import annotations

import logging

import pytest

from srl.progress import LogProgress, progress


def test_progress_is_log_lines_when_stderr_is_not_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    reporter = progress(total=10, desc="training vae", unit="batch")  # pytest captures stderr: not a terminal
    assert isinstance(reporter, LogProgress)
    with caplog.at_level(logging.INFO, logger="srl.progress"):
        reporter.update(4)  # fewer than LOG_INTERVAL seconds: no line yet
        reporter.set_postfix(epoch=1, val="0.25")
        reporter.close()
    assert len(caplog.records) == 1
    line = caplog.records[0].getMessage()
    assert line.startswith("training vae: 4/10 (40 %)") and "batch/s" in line and line.endswith("| epoch=1, val=0.25")
    assert "\r" not in line


def test_a_line_every_interval(caplog: pytest.LogCaptureFixture) -> None:
    reporter = LogProgress(total=3, desc="recording", unit="episode", interval=0.0)
    with caplog.at_level(logging.INFO, logger="srl.progress"):
        for _ in range(3):
            reporter.update()
        reporter.close()
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "recording: 1/3", "recording: 2/3", "recording: 3/3", "recording: 3/3"]


def test_disabled_progress_is_silent(capsys: pytest.CaptureFixture[str]) -> None:
    reporter = progress(total=5, desc="x", unit="batch", enabled=False)
    reporter.update(5)
    reporter.close()
    assert capsys.readouterr().err == ""
