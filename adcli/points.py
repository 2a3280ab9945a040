"""Many points at once: ``--points FILE`` (CSV or Parquet) and ``--random N --box``.

A points file is read a chunk at a time (:func:`open_points`), so memory does
not grow with the number of rows and the first results can be written before
the input ends. Each chunk becomes one numpy array per input, so every engine
pass serves all of its rows at once (no Python loop per point).

CSV is parsed by numpy's C reader (``np.loadtxt``; pyarrow's, when installed
and the input is large); the header by the ``csv`` module (RFC 4180 quoting).
Nothing on the good path is Python per row or per header column: cells are
located (line, column, text) only once a chunk has failed to parse.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np

from .core import split_top_level
from .errors import FILE, INPUT, USAGE, AdcliError

CHUNK_BYTES = 1 << 22  # text per chunk: 4 MiB, about 10^5 rows of a few numbers
PYARROW_FROM = 1 << 20  # chunks at least this large go to pyarrow's parser when it is installed
_BOM = b"\xef\xbb\xbf"
_SKIPPED = re.compile(rb"(?m)^[ \t\f\v]*#|^[ \t\f\v]+\r?$")  # comment and blank-but-spaces lines
ARROW_HINT = "pip install 'adcli[arrow]' (pyarrow)"


def _skip(line: str) -> bool:
    s = line.strip()
    return not s or s.startswith("#")


@dataclass
class PointReader:
    """An open points file: its validated header, then its rows a chunk at a time."""

    label: str  # "points.csv", "standard input"
    names: list[str]  # the expression's inputs; chunks are aligned with these
    header: list[str]  # the file's columns, in the file's order
    total_bytes: int | None  # for the progress bar (None: unknown, e.g. a pipe)
    done_bytes: int = 0
    rows: int = 0  # rows read so far
    _chunks: Iterator[list[np.ndarray]] | None = field(default=None, repr=False)
    _close: Any = field(default=None, repr=False)

    def chunks(self) -> Iterator[list[np.ndarray]]:
        """Each chunk: one float64 array per input (in ``names`` order), all the same length."""
        assert self._chunks is not None
        try:
            empty = True
            for cols in self._chunks:
                if len(cols[0]):
                    empty = False
                    self.rows += len(cols[0])
                    yield cols
            if empty:
                raise AdcliError(INPUT, f"{self.label} has a header but no points")
        finally:
            self.close()

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None


def open_points(arg: str, names: list[str], stdin=None, chunk_bytes: int = CHUNK_BYTES) -> PointReader:
    """Open ``--points ARG`` ("-" = stdin; ``*.parquet`` = Parquet) and check its header against ``names``."""
    if arg != "-" and arg.lower().endswith(".parquet"):
        return _open_parquet(arg, names, chunk_bytes)
    label = "standard input" if arg == "-" else arg
    if arg == "-":
        stream = stdin if stdin is not None else sys.stdin
        raw, total, close = getattr(stream, "buffer", None), None, None
        blocks = _stream_blocks(raw, chunk_bytes) if raw is not None else _text_blocks(stream, chunk_bytes)
    else:
        try:
            f: BinaryIO = open(arg, "rb")  # noqa: SIM115 - closed by the reader
        except FileNotFoundError:
            raise AdcliError(FILE, f"no such file: {arg}") from None
        except IsADirectoryError:
            raise AdcliError(FILE, f"{arg} is a directory, not a file") from None
        except OSError as exc:
            raise AdcliError(FILE, f"cannot read {arg}: {exc.strerror}") from None
        import os

        total, close = os.fstat(f.fileno()).st_size, f.close
        blocks = _file_blocks(f, chunk_bytes)
    reader = PointReader(label, names, [], total, _close=close)
    try:
        lines = _line_blocks(blocks, reader)
        header, header_no, rest = _find_header(lines, label)
        reader.header = header_check(header, names, label, header_no)
    except BaseException:
        reader.close()
        raise
    reader._chunks = _csv_chunks(rest, lines, reader, header_no)
    return reader


def read_points(arg: str, names: list[str], stdin=None) -> list[np.ndarray]:
    """All the points of ``--points ARG`` at once, aligned with ``names``."""
    return read_points_ordered(arg, names, stdin)[1]


def read_points_ordered(arg: str, names: list[str], stdin=None) -> tuple[list[str], list[np.ndarray]]:
    """The header's names in their order (the user's input order, SPEC 1), and all
    the columns at once, aligned with ``names`` (for check; ``--points`` streams)."""
    reader = open_points(arg, names, stdin)
    chunks = list(reader.chunks())
    return reader.header, [np.concatenate([c[k] for c in chunks]) for k in range(len(names))]


# -- CSV: bytes -> lines -> chunks of numbers ----------------------------------------------


FIRST_BYTES = 1 << 12  # the first chunk is small (about 100 rows), so the first rows come out at once


def _file_blocks(f: BinaryIO, size: int) -> Iterator[bytes]:
    step = min(size, FIRST_BYTES)
    while block := f.read(step):
        yield block
        step = min(2 * step, size)


def _stream_blocks(raw, size: int) -> Iterator[bytes]:
    """A pipe: gather what has arrived (``read1``) while more is ready at once; hand it
    on when the pipe is momentarily empty, so rows flow through as they are produced."""
    import select

    read = getattr(raw, "read1", raw.read)
    try:
        fd = raw.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    buf: list[bytes] = []
    have, step = 0, min(size, FIRST_BYTES)
    while block := read(step):
        buf.append(block)
        have += len(block)
        if have >= step or fd is None or not select.select([fd], [], [], 0)[0]:
            yield b"".join(buf)
            buf, have, step = [], 0, min(2 * step, size)
    if buf:
        yield b"".join(buf)


def _text_blocks(stream, size: int) -> Iterator[bytes]:
    while text := stream.read(size):
        yield text.encode("utf-8", "surrogatepass")


@dataclass
class _Lines:
    """A run of whole lines of the file (bytes), with the number of its first line."""

    data: bytes
    first_line: int  # 1-based
    offset: int  # byte offset in the file


def _line_blocks(blocks: Iterator[bytes], reader: PointReader) -> Iterator[_Lines]:
    """Cut the byte blocks at line ends; a NUL byte means a binary file."""
    carry, line_no, offset, first = b"", 1, 0, True
    for block in blocks:
        reader.done_bytes += len(block)
        if first:
            first = False
            if block.startswith(_BOM):
                block, offset = block[3:], 3
        if b"\0" in block:
            raise AdcliError(FILE, f"{reader.label} looks like a binary file, not CSV")
        block = carry + block
        cut = block.rfind(b"\n") + 1
        if cut == 0:
            carry = block
            continue
        carry = block[cut:]
        data = block[:cut]
        yield _Lines(data, line_no, offset)
        line_no += data.count(b"\n")
        offset += cut
    if carry:
        yield _Lines(carry, line_no, offset)


def _decode(chunk: _Lines, label: str) -> str:
    try:
        return chunk.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AdcliError(FILE, f"{label} is not UTF-8 text (byte {chunk.offset + exc.start})") from None


def _find_header(lines: Iterator[_Lines], label: str) -> tuple[list[str], int, _Lines | None]:
    """The first line that is neither blank nor a comment, and the rest of its block."""
    for chunk in lines:
        data, pos, no = chunk.data, 0, chunk.first_line
        while pos < len(data):
            nl = data.find(b"\n", pos)
            end = len(data) if nl < 0 else nl + 1
            line = _decode(_Lines(data[pos:end], no, chunk.offset + pos), label).rstrip("\r\n")
            if not _skip(line):
                return [line], no, _Lines(data[end:], no + 1, chunk.offset + end)
            pos, no = end, no + 1
    raise AdcliError(INPUT, f"{label} is empty: expected a header line of input names")


def field_spans(line: str) -> list[tuple[int, int]]:
    """[start, end) of every comma-separated field of ``line``, quotes honoured (for error carets)."""
    spans, start, quoted = [], 0, False
    for k, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            spans.append((start, k))
            start = k + 1
    spans.append((start, len(line)))
    return spans


def _caret(span: tuple[int, int]) -> tuple[int, int]:
    return (span[0], max(span[1], span[0] + 1))


def header_check(header_lines: list[str], names: list[str], label: str, line_no: int | None) -> list[str]:
    """The header's column names (RFC 4180 quoting), each an input, none twice, none missing."""
    line = header_lines[0]
    header = [h.strip() for h in next(csv.reader([line], skipinitialspace=True))]
    where = label if line_no is None else f"{label}, line {line_no}"
    known = set(names)
    seen: set[str] = set()
    for k, h in enumerate(header):
        if h not in known or h in seen:
            spans = field_spans(line)
            span = _caret(spans[k]) if k < len(spans) else (0, max(len(line), 1))
            if h in seen:
                raise AdcliError(INPUT, f"column {h} appears twice", line, span, label=where)
            from .core import did_you_mean, listing

            raise AdcliError(
                INPUT,
                f"column {h!r} is not an input of the expression (its inputs: {listing(names)})",
                line,
                span,
                label=where,
                hint=did_you_mean(h, [n for n in names if n not in seen]),
            )
        seen.add(h)
    missing = [n for n in names if n not in seen]
    if missing:
        from .core import listing

        raise AdcliError(
            INPUT,
            f"{label} has no column for {listing(missing)}",
            line,
            (0, max(len(line), 1)),
            label=where,
            hint="the header line names every input",
        )
    return header


def _csv_chunks(
    rest: _Lines | None, lines: Iterator[_Lines], reader: PointReader, header_no: int
) -> Iterator[list[np.ndarray]]:
    order = {h: k for k, h in enumerate(reader.header)}
    take = [order[n] for n in reader.names]
    width = len(reader.header)
    if rest is not None and rest.data:
        cols = _parse_chunk(rest, width, reader)
        yield [cols[k] for k in take]
    for chunk in lines:
        cols = _parse_chunk(chunk, width, reader)
        yield [cols[k] for k in take]


def _parse_chunk(chunk: _Lines, width: int, reader: PointReader) -> list[np.ndarray]:
    """One run of lines -> one array per column, by the fastest parser that accepts it."""
    data = chunk.data
    plain = not ((b"#" in data or b"\n " in data or b"\n\t" in data or data[:1].isspace()) and _SKIPPED.search(data))
    if plain and len(data) >= PYARROW_FROM:
        cols = _pyarrow_parse(data, width)
        if cols is not None and all(math_all_finite(c) for c in cols):
            return cols  # anything else: numpy's reader decides, and locates the error
    text = _decode(chunk, reader.label).splitlines()
    return _parse_lines([(ln, chunk.first_line + k) for k, ln in enumerate(text)], width, reader, plain)


def _parse_lines(lines: list[tuple[str, int]], width: int, reader: PointReader, plain: bool = False):
    kept = lines if plain else [(ln, no) for ln, no in lines if not _skip(ln)]
    if not kept:
        return [np.empty(0) for _ in range(width)]
    data = _loadtxt([ln for ln, _ in kept])
    if data is None or data.shape[1] != width:
        _locate_bad_line(kept, width, reader)
        raise AdcliError(INPUT, f"cannot read the points in {reader.label}")  # pragma: no cover
    return _finite([data[:, k] for k in range(width)], kept, reader)


def _loadtxt(lines: list[str]) -> np.ndarray | None:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": the caller checks the shape
            return np.loadtxt(lines, delimiter=",", quotechar='"', comments="#", ndmin=2, dtype=np.float64)
    except ValueError:
        return None


def _pyarrow_parse(data: bytes, width: int) -> list[np.ndarray] | None:
    """pyarrow's multi-threaded CSV parser, if installed; None when it is not or
    when it refuses the text (then numpy's reader decides, and locates the error)."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:
        return None
    names = [f"c{k}" for k in range(width)]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=names, block_size=max(len(data) // 2 + 1, 1 << 16)),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.float64()),
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException, ValueError):
        return None
    if table.num_columns != width or any(c.null_count for c in table.columns):
        return None
    return [float64_column(c) for c in table.columns]


def float64_column(col: Any) -> np.ndarray:
    """A pyarrow float64 column without nulls (an Array or a ChunkedArray) as a new numpy
    array, read from its data buffers. Not ``to_numpy``: pyarrow's conversion first imports
    pandas when it is installed (0.3 s, 400 modules, in the middle of the stream)."""
    chunks = col.chunks if hasattr(col, "chunks") else [col]
    views = [
        np.frombuffer(c.buffers()[1], dtype=np.float64, count=len(c), offset=8 * c.offset) for c in chunks if len(c)
    ]
    return np.concatenate(views) if views else np.empty(0)


def _finite(cols: list[np.ndarray], kept: list[tuple[str, int]], reader: PointReader) -> list[np.ndarray]:
    """Every value a finite number; else the first offending cell, located."""
    for c, col in enumerate(cols):
        if math_all_finite(col):
            continue
        line, no = kept[int(np.flatnonzero(~np.isfinite(col))[0])]
        raise AdcliError(
            INPUT,
            f"{reader.header[c]} is not a finite number",
            line,
            _caret(field_spans(line)[c]),
            label=f"{reader.label}, line {no}",
        )
    return cols


def math_all_finite(col: np.ndarray) -> bool:
    """A sum is one pass with no temporary array; it is finite exactly when every term is
    (short of the sum itself overflowing, when the exact test decides)."""
    import math

    return math.isfinite(float(np.sum(col))) or bool(np.all(np.isfinite(col)))


def _locate_bad_line(kept: list[tuple[str, int]], width: int, reader: PointReader) -> None:
    """Raise the located error for the first line numpy cannot read: bisect, then look at its cells."""
    lo, hi = 0, len(kept)
    while hi - lo > 1:  # invariant: the first bad line is in kept[lo:hi]
        mid = (lo + hi) // 2
        part = _loadtxt([ln for ln, _ in kept[lo:mid]])
        if part is None or part.shape[1] != width:
            hi = mid
        else:
            lo = mid
    line, no = kept[lo]
    where = f"{reader.label}, line {no}"
    spans = field_spans(line)
    if len(spans) != width:
        raise AdcliError(INPUT, f"expected {width} values, found {len(spans)}", line, (0, len(line)), label=where)
    for c, (a, b) in enumerate(spans):
        one = _loadtxt([line[a:b]])
        if one is None or one.size != 1:
            cell = next(csv.reader([line[a:b]]), [""])[0].strip() if b > a else ""
            raise AdcliError(
                INPUT,
                f"{cell!r} is not a number (column {reader.header[c]})",
                line,
                _caret((a, b)),
                label=where,
                hint=_number_hint(cell),
            )


def _number_hint(cell: str) -> str | None:
    if not cell:
        return "every row has a value for every column"
    if "_" in cell:
        return f"write {cell.replace('_', '')}: digit separators are not allowed in a points file"
    if not cell.isascii():
        return "write numbers with ASCII digits, e.g. 1.5e-3"
    return None


# -- Parquet (pyarrow, the adcli[arrow] extra) ------------------------------------------------


def _arrow(what: str):
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise AdcliError(USAGE, f"{what} needs pyarrow", hint=ARROW_HINT) from None
    return pyarrow


def _open_parquet(path: str, names: list[str], chunk_bytes: int) -> PointReader:
    pa = _arrow("reading Parquet")
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except FileNotFoundError:
        raise AdcliError(FILE, f"no such file: {path}") from None
    except IsADirectoryError:
        raise AdcliError(FILE, f"{path} is a directory, not a file") from None
    except (OSError, pa.ArrowException) as exc:
        raise AdcliError(FILE, f"cannot read {path} as Parquet: {exc}") from None
    schema = pf.schema_arrow
    header = header_check([",".join(schema.names)], names, f"{path} (columns)", None)
    for n in names:
        t = schema.field(n).type
        if not (pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t)):
            raise AdcliError(INPUT, f"column {n} of {path} holds {t}, not numbers")
    reader = PointReader(path, names, header, pf.metadata.num_rows, _close=pf.close)
    rows_per_batch = max(1, chunk_bytes // (8 * max(len(names), 1)))
    reader._chunks = _parquet_chunks(pf, reader, rows_per_batch)
    return reader


def _parquet_chunks(pf, reader: PointReader, rows: int) -> Iterator[list[np.ndarray]]:
    import pyarrow as pa

    start = 0
    for batch in pf.iter_batches(batch_size=rows, columns=reader.names):
        cols = []
        for n in reader.names:
            col = batch.column(n)
            if col.null_count:
                r = start + next(k for k, v in enumerate(col.is_null().to_pylist()) if v)
                raise AdcliError(INPUT, f"{n} has no value in row {r + 1} of {reader.label}")
            if pa.types.is_float64(col.type):
                a = float64_column(col)
            else:  # integers, decimals: numpy's (or Python's, for decimals) conversion to float
                a = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
            if not math_all_finite(a):
                r = start + int(np.flatnonzero(~np.isfinite(a))[0])
                raise AdcliError(INPUT, f"{n} is not a finite number in row {r + 1} of {reader.label}")
            cols.append(a)
        start += batch.num_rows
        reader.done_bytes = start
        yield cols


# -- random points -----------------------------------------------------------------------


def random_points(n: int, seed: int | None, box: str, names: list[str]) -> list[np.ndarray]:
    """``n`` uniform points in a box: ``-2:2`` for every input, or ``x1=-1:1,x2=0:3``."""
    if n < 1:
        raise AdcliError(INPUT, f"--random needs a positive number of points, got {n}")
    ranges: dict[str, tuple[float, float]] = {}
    pieces = split_top_level(box)
    if len(pieces) == 1 and "=" not in box:
        lohi = _range(box, box, (0, len(box)))
        ranges = {name: lohi for name in names}
    else:
        for piece, off in pieces:
            name, eq, rng = piece.partition("=")
            span = (off, off + max(len(piece), 1))
            name = name.strip()
            if not eq:
                raise AdcliError(INPUT, f"{piece.strip()!r}: write name=lo:hi", box, span, label="--box")
            if name not in names:
                raise AdcliError(INPUT, f"{name} is not an input of the expression", box, span, label="--box")
            ranges[name] = _range(rng, box, span)
        missing = [m for m in names if m not in ranges]
        if missing:
            raise AdcliError(INPUT, f"--box gives no range for {', '.join(missing)}", box, (0, len(box)), label="--box")
    rng_ = np.random.default_rng(seed)
    return [rng_.uniform(ranges[name][0], ranges[name][1], size=n) for name in names]


def _range(text: str, source: str, span: tuple[int, int]) -> tuple[float, float]:
    from .parse import parse_constant

    lo, colon, hi = text.partition(":")
    if not colon:
        raise AdcliError(INPUT, f"{text.strip()!r} is not a range: write lo:hi, e.g. -2:2", source, span, label="--box")
    try:
        a, b = parse_constant(lo, "--box"), parse_constant(hi, "--box")
    except AdcliError as exc:
        raise AdcliError(INPUT, f"bad range {text.strip()!r}: {exc.message}", source, span, label="--box") from None
    if not a < b:
        raise AdcliError(
            INPUT, f"empty range {text.strip()!r}: the low end must be below the high end", source, span, label="--box"
        )
    return (a, b)
