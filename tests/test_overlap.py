"""The --points pipeline's threads: order, errors raised where and when they belong,
clean-up when the consumer stops early, and a closed pipe as a closed pipe."""

import json
import subprocess
import sys
import threading

import pytest

from adcli.overlap import Writer, ahead


def test_items_come_in_order_and_a_late_error_after_the_earlier_items():
    def items():
        yield from range(5)
        raise ValueError("row 6")

    got = []
    with pytest.raises(ValueError, match="row 6"):
        for x in ahead(items()):
            got.append(x)
    assert got == [0, 1, 2, 3, 4]


def test_a_consumer_that_stops_early_closes_the_producer():
    closed = threading.Event()

    def items():
        try:
            yield from range(10**6)
        finally:
            closed.set()

    for x in ahead(items()):
        if x == 3:
            break
    assert closed.wait(timeout=10)


def test_the_writer_writes_everything_in_order_before_close_returns():
    out: list[bytes] = []
    w = Writer(out.append)
    for k in range(100):
        w.write(b"%d," % k)
    w.close()
    assert b"".join(out) == b"".join(b"%d," % k for k in range(100))


def test_a_failed_write_is_raised_by_a_later_write_or_by_close():
    def sink(data: bytes) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    w = Writer(sink)
    w.write(b"a")
    with pytest.raises(BrokenPipeError):
        for _ in range(100):  # never blocks: after the error the thread drops what it is given
            w.write(b"b")
        w.close()
    w.close()  # raised once


def test_a_closed_pipe_ends_points_quietly_with_141(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("x1,x2\n" + "".join(f"{k % 7 + 1}.5,{k % 5 + 1}.25\n" for k in range(60_000)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "adcli", "grad", "log(x1*x2)", "--points", str(f)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141
    assert first.startswith(b'{"point": {"x1": 1.5, "x2": 1.25}') and err == b""


def test_no_thread_outlives_a_failed_run(tmp_path, monkeypatch):
    import time

    from typer.testing import CliRunner

    from adcli import points
    from adcli.cli import app

    monkeypatch.setattr(points, "CHUNK_BYTES", 64)
    monkeypatch.setattr(points, "FIRST_BYTES", 64)
    f = tmp_path / "p.csv"
    f.write_text("x\n" + "".join(f"{k}.5\n" for k in range(200)) + "oops\n" + "1.5\n" * 200)
    before = threading.active_count()
    for args in (["--points", str(tmp_path / "none.csv")], ["--points", str(f)]):
        r = CliRunner().invoke(app, ["grad", "x^2", *args])
        assert r.exit_code == 2 and "Traceback" not in r.output
    deadline = time.monotonic() + 10
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before
    rows = [json.loads(line)["point"]["x"] for line in r.stdout.splitlines()]
    assert rows == [k + 0.5 for k in range(len(rows))] and 100 < len(rows) <= 200  # the chunks before the bad one
    assert "'oops' is not a number" in r.stderr and "line 202" in r.stderr
