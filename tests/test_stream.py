"""--points streamed in chunks: the bulk row formatter against json.dumps/repr per row,
chunk boundaries, CSV as other tools write it, Parquet, and the first rows out early."""

import csv
import io
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from adcli import points, tabular
from adcli.cli import app
from adcli.render import jsonable

EXPR = "log((x1+x2)^2+sin(x1*x2))"


def run(*args, stdin=None):
    result = CliRunner().invoke(app, list(args), input=stdin)
    assert "Traceback" not in result.output
    return result


def grad_by_hand(x1, x2):
    s = x1 + x2
    u = s * s + math.sin(x1 * x2)
    return math.log(u), (2 * s + x2 * math.cos(x1 * x2)) / u, (2 * s + x1 * math.cos(x1 * x2)) / u


# -- the bulk formatter is json.dumps / repr, byte for byte ------------------------------------

floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 1e-4, 9.999999999999999e-05, 1e16, 9999999999999998.0, 1e-300, 5e-324]),
    st.sampled_from([1e250, 2e250, 3e250, 4e250, 5e250]),  # the formatter's own marker numbers
)


def reference_jsonl(doc_rows, bad):
    out = []
    for row, b in zip(doc_rows, bad):
        if b:
            row = {"point": row["point"], "error": tabular.UNDEFINED}
        out.append(json.dumps(jsonable(row), ensure_ascii=False, allow_nan=False) + "\n")
    return "".join(out)


@settings(max_examples=200)
@given(st.data())
def test_bulk_rows_equal_json_dumps_and_repr_per_row(data):
    m = data.draw(st.integers(1, 12))
    cols = [np.array(data.draw(st.lists(floats, min_size=m, max_size=m))) for _ in range(5)]
    bad = np.array(data.draw(st.lists(st.booleans(), min_size=m, max_size=m)))
    const = data.draw(floats)
    doc = {
        "point": {"x1": cols[0], "x2": cols[1]},
        "wrt": ["x1", "x2"],
        "value": cols[2],
        "gradient": {"x1": cols[3], "x2": const},
        "hessian": [[cols[4], cols[4]], [const, cols[3]]],
        "mode": "forward",
    }
    rows = [
        {
            "point": {"x1": cols[0][i], "x2": cols[1][i]},
            "wrt": ["x1", "x2"],
            "value": cols[2][i],
            "gradient": {"x1": cols[3][i], "x2": const},
            "hessian": [[cols[4][i], cols[4][i]], [const, cols[3][i]]],
            "mode": "forward",
        }
        for i in range(m)
    ]
    lay = tabular.jsonl_layout(doc, m)
    want = reference_jsonl(rows, bad)
    assert tabular.format_rows(lay, m, bad).decode() == want
    assert tabular.format_rows_slow(lay, m, bad).decode() == want
    ccols = tabular.csv_columns(doc, m, ["x1", "x2"])
    assert [n for n, _ in ccols] == [
        "x1", "x2", "value", "gradient_x1", "gradient_x2", "hessian_1_1", "hessian_1_2", "hessian_2_1", "hessian_2_2",
    ]  # fmt: skip
    clay = tabular.csv_layout(ccols, m, 2)
    want_csv = "".join(
        ",".join(repr(float(v[i] if isinstance(v, np.ndarray) else v)) for _, v in (ccols if not bad[i] else ccols[:2]))
        + ("," * (len(ccols) - 2) + ",undefined\n" if bad[i] else ",\n")
        for i in range(m)
    )
    assert tabular.format_rows(clay, m, bad).decode() == want_csv
    assert tabular.format_rows_slow(clay, m, bad).decode() == want_csv


def test_blocks_of_rows_join_to_the_whole_chunk(monkeypatch):
    monkeypatch.setattr(tabular, "BLOCK_BYTES", 300)  # a few rows a block
    rng = np.random.default_rng(3)
    m = 57
    cols = [rng.uniform(-2, 2, m) * 10.0 ** rng.integers(-8, 20, m) for _ in range(4)]
    cols[2][::5] = np.nan
    bad = rng.random(m) < 0.2
    bad[-1] = True
    doc = {
        "point": {"x1": cols[0], "x2": cols[1]},
        "value": cols[2],
        "hessian": [[cols[3], cols[0]], [cols[0], cols[3]]],
    }
    for lay in (tabular.jsonl_layout(doc, m), tabular.csv_layout(tabular.csv_columns(doc, m, ["x1", "x2"]), m, 2)):
        blocks = list(tabular.format_blocks(lay, m, bad))
        assert len(blocks) > 5
        assert b"".join(blocks) == tabular.format_rows_slow(lay, m, bad)


def test_numbers_at_the_edges_of_positional_notation_read_back_exactly():
    x = np.array(
        [1e-4, np.nextafter(1e-4, 0), 1e16, np.nextafter(1e16, 0), 0.1, 1 / 3, -2.5e-310, 1.7976931348623157e308]
    )
    text = tabular.format_rows(tabular.csv_layout([("x", x)], len(x), 1), len(x), np.zeros(len(x), bool)).decode()
    cells = [line.split(",")[0] for line in text.splitlines()]
    assert cells == [repr(v) for v in x.tolist()]
    assert [float(c) for c in cells] == x.tolist()


# -- chunks ----------------------------------------------------------------------------------


def test_rows_across_many_chunks_match_the_closed_form(tmp_path, monkeypatch):
    monkeypatch.setattr(points, "CHUNK_BYTES", 512)
    monkeypatch.setattr(points, "FIRST_BYTES", 64)
    rng = np.random.default_rng(5)
    pts = rng.uniform(0.1, 2.0, size=(700, 2))
    f = tmp_path / "p.csv"
    f.write_text("x1,x2\n" + "\n".join(f"{a!r},{b!r}" for a, b in pts.tolist()) + "\n")
    for fmt in ("csv", "jsonl"):
        r = run("grad", EXPR, "--points", str(f), "--format", fmt)
        assert r.exit_code == 0
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(r.stdout)))
            got = [
                (float(d["x1"]), float(d["x2"]), float(d["value"]), float(d["d_x1"]), float(d["d_x2"])) for d in rows
            ]
        else:
            docs = [json.loads(line) for line in r.stdout.splitlines()]
            got = [(d["point"]["x1"], d["point"]["x2"], d["value"], *d["gradient"].values()) for d in docs]
        assert len(got) == 700
        for (a, b), (ga, gb, v, g1, g2) in zip(pts.tolist(), got):
            assert (ga, gb) == (a, b)
            assert (v, g1, g2) == pytest.approx(grad_by_hand(a, b), rel=1e-13)


def test_undefined_rows_in_a_later_chunk_are_numbered_from_the_start(tmp_path, monkeypatch):
    monkeypatch.setattr(points, "CHUNK_BYTES", 64)
    monkeypatch.setattr(points, "FIRST_BYTES", 64)
    xs = [1.5 + k for k in range(60)]
    xs[47] = -3.0
    f = tmp_path / "p.csv"
    f.write_text("x\n" + "\n".join(map(repr, xs)) + "\n")
    r = run("grad", "log(x)", "--points", str(f), "--format", "csv")
    assert r.exit_code == 2
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 60 and rows[47]["error"] == "undefined" and rows[47]["value"] == ""
    assert float(rows[48]["d_x"]) == pytest.approx(1 / xs[48])
    assert "undefined at 1 of 60 points" in r.stderr and "point 48 (x=-3)" in r.stderr


def test_a_warning_is_printed_once_not_once_per_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(points, "CHUNK_BYTES", 64)
    monkeypatch.setattr(points, "FIRST_BYTES", 64)
    f = tmp_path / "p.csv"
    f.write_text("x\n" + "\n".join(["800.0"] * 50) + "\n")
    r = run("eval", "exp(x)", "--points", str(f))
    assert r.exit_code == 0
    assert r.stderr.count("warning") == 1
    assert all(json.loads(line)["value"] == "Infinity" for line in r.stdout.splitlines())


# -- reading CSV as other tools write it ---------------------------------------------------------


def test_quoted_header_bom_and_crlf_as_excel_writes_them(tmp_path):
    f = tmp_path / "p.csv"
    f.write_bytes(b'\xef\xbb\xbf"x2","x1"\r\n"2","1"\r\n3,0.5\r\n')
    r = run("grad", EXPR, "--points", str(f), "--format", "csv")
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert float(rows[0]["d_x1"]) == pytest.approx(grad_by_hand(1.0, 2.0)[1], rel=1e-14)
    assert float(rows[1]["x1"]) == 0.5


def test_what_pyarrow_writes_is_read_back(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.csv as pacsv

    f = tmp_path / "p.csv"
    pacsv.write_csv(pa.table({"x1": [1.0, 0.5], "x2": [2.0, 3.0]}), f)
    assert f.read_text().startswith('"x1","x2"')
    r = run("eval", "x1*x2", "--points", str(f), "--format", "csv")
    assert r.exit_code == 0, r.stderr
    assert [row["value"] for row in csv.DictReader(io.StringIO(r.stdout))] == ["2.0", "1.5"]


@pytest.mark.parametrize(
    "content, needle, where",
    [
        ("x1,x2\n1,1_000\n", "'1_000' is not a number (column x2)", "line 2"),
        ("x1,x2\n1,2\n\n# note\n3,١\n", "'١' is not a number (column x2)", "line 5"),
        ("x1,x2\n1,2\n3\n", "expected 2 values, found 1", "line 3"),
        ("x1,x2\n1,2\n3,\n", "'' is not a number (column x2)", "line 3"),
        ('"x1","x1"\n1,2\n', "appears twice", "line 1"),
        ("x1,x2\n1,2\n4,-inf\n", "x2 is not a finite number", "line 3"),
    ],
)
def test_bad_cells_are_located(tmp_path, content, needle, where):
    f = tmp_path / "p.csv"
    f.write_text(content)
    r = run("grad", EXPR, "--points", str(f))
    assert r.exit_code == 2
    assert needle in r.stderr and where in r.stderr
    assert r.stdout == ""  # nothing printed: the bad cell is in the first chunk


def test_digit_separator_hint(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("x\n1_000\n")
    assert "write 1000" in run("eval", "x", "--points", str(f)).stderr


def test_a_bad_cell_in_a_later_chunk_is_located_after_the_earlier_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(points, "CHUNK_BYTES", 64)
    monkeypatch.setattr(points, "FIRST_BYTES", 64)
    f = tmp_path / "p.csv"
    f.write_text("x\n" + "\n".join(["1.5"] * 40) + "\nabc\n")
    r = run("eval", "x", "--points", str(f), "--format", "csv")
    assert r.exit_code == 2
    assert "'abc' is not a number" in r.stderr and "line 42" in r.stderr


def test_a_wide_header_is_read_in_linear_time(tmp_path):
    n = 20_000
    f = tmp_path / "wide.csv"
    f.write_text(",".join(f"x{i}" for i in range(n)) + "\n" + ",".join(["0.5"] * n) + "\n")
    start = time.perf_counter()
    reader = points.open_points(str(f), [f"x{i}" for i in reversed(range(n))])
    cols = list(reader.chunks())
    assert time.perf_counter() - start < 30  # quadratic took minutes at 10^4 columns
    assert len(cols) == 1 and len(cols[0]) == n and all(c.tolist() == [0.5] for c in cols[0])
    bad = f.read_text().replace(f"x{n - 1}\n", "y\n", 1)
    f.write_text(bad)
    with pytest.raises(points.AdcliError, match="'y' is not an input"):
        points.open_points(str(f), [f"x{i}" for i in range(n)])


def test_pyarrow_and_numpy_parsers_agree(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3000, 3)) * 10.0 ** rng.integers(-20, 20, (3000, 3))
    f = tmp_path / "p.csv"
    f.write_text("a,b,c\n" + "\n".join(",".join(map(repr, r)) for r in x.tolist()) + "\n")
    names = ["a", "b", "c"]
    monkeypatch.setattr(points, "PYARROW_FROM", 0)
    fast = points.read_points(str(f), names)
    monkeypatch.setattr(points, "PYARROW_FROM", 1 << 60)
    slow = points.read_points(str(f), names)
    for k in range(3):
        assert fast[k].tolist() == slow[k].tolist() == x[:, k].tolist()


def test_pyarrow_columns_come_from_their_buffers_chunks_and_slices_too():
    pa = pytest.importorskip("pyarrow")
    col = pa.chunked_array([pa.array([1.0, 2.0, 3.0]).slice(1), pa.array([4.0, -0.0, 5e-324, 1e308])])
    a = points.float64_column(col)
    assert a.dtype == np.float64 and a.flags.writeable  # a copy: the caller may own it
    assert a.tolist() == [2.0, 3.0, 4.0, 0.0, 5e-324, 1e308] and np.signbit(a[3])
    assert points.float64_column(pa.array([7.5, 8.5, 9.5]).slice(1, 1)).tolist() == [8.5]
    assert points.float64_column(pa.chunked_array([], type=pa.float64())).tolist() == []


def test_reading_a_large_chunk_with_pyarrow_does_not_import_pandas():
    """pyarrow's to_numpy imports pandas when it is installed (0.3 s and 400 modules, once,
    in the middle of the stream); the reader takes the numbers from the column buffers."""
    pytest.importorskip("pyarrow")
    code = (
        "import sys\nfrom adcli import points\n"
        "cols = points._pyarrow_parse(b'1.5,2\\n3,4.25\\n' * 300000, 2)\n"
        "print(cols[0][:2].tolist(), cols[1][-1], len(cols[0]), 'pyarrow' in sys.modules, 'pandas' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["[1.5,", "3.0]", "4.25", "600000", "True", "False"]


def test_writing_parquet_does_not_import_pandas(tmp_path):
    """pa.array of a numpy array or of a list imports pandas when it is installed; the
    Parquet writer builds its columns from buffers, nulls and "undefined" included."""
    pytest.importorskip("pyarrow")
    src = tmp_path / "p.csv"
    src.write_text("x,y\n1,2\n-1,3\n0,1\n2,2\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    code = (
        "import sys, io\nfrom adcli import fastpath\n"
        f"sys.stdout = open({str(out)!r}, 'w')\n"
        f"code = fastpath.run(['grad', 'log(x)*y', '--points', {str(src)!r}, '--format', 'parquet'])\n"
        "sys.stdout.close(); sys.stdout = sys.__stdout__\n"
        "print(code, 'pyarrow' in sys.modules, 'pandas' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.split() == ["2", "True", "False"], r.stderr
    import math

    import pyarrow.parquet as pq

    t = pq.read_table(out).to_pydict()
    assert t["error"] == [None, "undefined", "undefined", None]
    assert t["value"] == [0.0, None, None, 2 * math.log(2.0)]
    assert t["d_x"] == [2.0, None, None, 1.0] and t["x"] == [1.0, -1.0, 0.0, 2.0]


# -- Parquet -------------------------------------------------------------------------------------


def test_parquet_in_and_out(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"x2": [2.0, 3.0, 1.0], "x1": [1.0, 0.5, -1.0]}), src)
    out = tmp_path / "out.parquet"
    with open(out, "wb") as sink:
        p = subprocess.run(
            [sys.executable, "-m", "adcli", "grad", "log(x1)*x2", "--points", str(src), "--format", "parquet"],
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert p.returncode == 2 and "undefined at 1 of 3 points" in p.stderr
    t = pq.read_table(out).to_pydict()
    assert list(t) == ["x2", "x1", "value", "d_x2", "d_x1", "error"]  # the header order is the input order
    assert t["x1"] == [1.0, 0.5, -1.0] and t["error"] == [None, None, "undefined"]
    assert t["d_x1"][:2] == pytest.approx([2.0, 6.0]) and t["d_x1"][2] is None
    assert t["value"][1] == pytest.approx(math.log(0.5) * 3)
    r = run("eval", "x1 + x2", "--points", str(src), "--format", "csv")
    assert [row["value"] for row in csv.DictReader(io.StringIO(r.stdout))] == ["3.0", "3.5", "0.0"]
    r = run("eval", "x1 + x3", "--points", str(src))
    assert r.exit_code == 2 and "'x2' is not an input" in r.stderr


def test_parquet_refuses_a_terminal():
    import adcli.batch as batch

    class Tty(io.StringIO):
        def isatty(self):
            return True

    old = sys.stdout
    sys.stdout = Tty()
    try:
        with pytest.raises(points.AdcliError, match="redirect"):
            batch._Output("parquet")
    finally:
        sys.stdout = old


# -- streaming: the first rows come out before the input ends ------------------------------------


def test_first_rows_are_written_before_stdin_is_closed():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "adcli", "eval", "2*x", "--points", "-", "--format", "csv"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"x\n1\n2\n")
    proc.stdin.flush()
    header = proc.stdout.readline()
    first = proc.stdout.readline()  # arrives while stdin is still open
    proc.stdin.write(b"3\n")
    proc.stdin.close()
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == 0
    assert header == b"x,value,error\n" and first == b"1.0,2.0,\n"
    assert rest == b"2.0,4.0,\n3.0,6.0,\n"


def test_check_points_reads_through_the_same_reader(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text('"x"\n0.5\n1.5\n')
    r = run("check", "x^2*sin(x)", "--points", str(f), "--json")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and doc["ok"]


def test_progress_bar_on_a_terminal_after_a_second(monkeypatch):
    import adcli.batch as batch

    class Tty(io.StringIO):
        def isatty(self):
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    reader = points.PointReader("p.csv", ["x"], ["x"], total_bytes=1000, done_bytes=0)
    bar = batch._Progress(reader)
    bar.update(10)  # under a second: nothing yet
    assert bar.bar is None and err.getvalue() == ""
    monkeypatch.setattr(batch, "PROGRESS_AFTER", 0.0)
    reader.done_bytes = 500
    bar.update(123_456)
    bar.say("warning: something")
    bar.stop()
    shown = err.getvalue()
    assert "123,456 rows" in shown and "p.csv" in shown and "warning: something" in shown
    off = batch._Progress(reader)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: never a bar
    off.enabled = batch._isatty(sys.stderr)
    off.update(1)
    assert off.bar is None
