"""``--points``, streamed: read a chunk of rows, evaluate and differentiate it in
one vectorised pass, write its rows, repeat. Memory stays that of one chunk
whatever the number of rows, and the first rows are out while the rest are
still being read. Warnings are printed once, when first met; undefined rows
are written as such and counted, and the run ends with exit code 2 if any."""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import USAGE, AdcliError
from .overlap import Writer, ahead

PROGRESS_AFTER = 1.0  # seconds: shorter batches show no progress bar


def run_points(
    kind: str,
    expr: Any,
    points: str,
    compute: Callable[[Any], Any],
    fmt: str = "jsonl",
    at: str | None = None,
    expr_from_stdin: bool = False,
    quiet: bool = False,
    stdin=None,
) -> int:
    """Run command ``kind`` (eval, grad, jvp, ...) at every row of ``--points``; return the exit code.

    ``expr`` is the expression's text, or its graph already parsed (the REPL's definitions)."""
    from .core import Problem
    from .evaluate import evaluate
    from .parse import parse
    from .points import open_points
    from .render import points_rows, warning_text
    from .usage import POINTS_FORMATS as FORMATS

    if fmt not in FORMATS:
        raise AdcliError(USAGE, f"unknown --format {fmt!r} for --points: use {', '.join(FORMATS)}")
    if at is not None:
        raise AdcliError(USAGE, "give either --at or --points, not both")
    if points == "-" and expr_from_stdin:
        raise AdcliError(USAGE, "the expression and --points cannot both come from standard input")
    g = parse(expr) if isinstance(expr, str) else expr
    out = _Output(fmt)  # before reading: --format parquet on a terminal fails first
    reader = open_points(points, g.input_names, stdin)
    g = g.in_order(reader.header)  # the header's order is the user's input order (SPEC 1)
    reader.names = list(g.input_names)  # chunks come aligned with it (read from the first chunk on)
    progress = _Progress(reader)
    seen: set[str] = set()
    rows = undefined = 0
    first_error: AdcliError | None = None
    gc.freeze()  # what exists now (modules, the graph) outlives the loop: no collection re-scans it
    chunks = ahead(reader.chunks())
    try:
        for cols in chunks:
            m = len(cols[0])
            values = evaluate(g, cols, mask_undefined=True)
            result = compute(Problem(g, cols, values))  # type: ignore[arg-type]
            for w in result.warnings:
                if w.message not in seen and not quiet:
                    seen.add(w.message)
                    progress.say(warning_text(w))
            bad = np.broadcast_to(np.asarray(values.undefined, dtype=bool), (m,))
            if values.first_error is not None and first_error is None:
                first_error = _renumbered(values.first_error, rows)
            undefined += int(np.count_nonzero(bad))
            out.write(points_rows(kind, result), m, len(g.inputs), bad)
            rows += m
            progress.update(rows)
    finally:
        chunks.close()  # stops the reading thread, which closes the file
        gc.unfreeze()
        progress.stop()
        out.close()
    if undefined:
        sys.stderr.write(
            f"error: the expression is undefined at {undefined} of {rows} points"
            f"{': first, ' + first_error.message if first_error else ''}\n"
        )
        return 2
    return 0


def _renumbered(err: AdcliError, offset: int) -> AdcliError:
    """A chunk numbers its points from 1; the user counts from the first row of the file."""
    k = err.extra.get("point_index")
    if offset and k is not None:
        err.message = err.message.replace(f"point {k + 1} (", f"point {offset + k + 1} (", 1)
        err.extra["point_index"] = offset + k
    return err


class _Output:
    """Where the rows go: bytes to stdout, flushed after every chunk, by a thread (so that
    a slow reader of the pipe does not hold up the next chunk); Parquet row groups."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.header_done = False
        sys.stdout.flush()
        self.raw = getattr(sys.stdout, "buffer", None)
        self.parquet = None
        self.writer: Writer | None = None
        if fmt == "parquet":
            if sys.stdout.isatty():
                raise AdcliError(
                    USAGE,
                    "--format parquet writes binary data: redirect standard output to a file",
                    hint="adcli grad ... --points p.csv --format parquet > out.parquet",
                )
            from .tabular import ParquetRows

            self.parquet = ParquetRows(self.raw if self.raw is not None else sys.stdout)

    def write(self, rows: tuple[dict, list], m: int, point_columns: int, bad: np.ndarray) -> None:
        from . import tabular

        doc, cols = rows
        if self.parquet is not None:
            self.parquet.write(cols, m, point_columns, bad)
            return
        if self.writer is None:  # started at the first rows: an error before them leaves no thread
            self.writer = Writer(self._emit)
        if self.fmt == "csv":
            lay = tabular.csv_layout(cols, m, point_columns)
            if not self.header_done:
                self.writer.write(tabular.csv_header(cols).encode())
        else:
            lay = tabular.jsonl_layout(doc, m)
        self.header_done = True
        for text in tabular.format_blocks(lay, m, bad):
            self.writer.write(text)

    def _emit(self, data: bytes) -> None:
        if self.raw is None:  # a text-only stream (an embedding that replaced sys.stdout): guarded
            sys.stdout.write(data.decode("utf-8"))
            sys.stdout.flush()
            return
        try:
            self.raw.write(data)
            self.raw.flush()
        except OSError as err:  # a closed pipe, a full disk: as a guarded stream says it
            from .stdio import WriteFailed

            raise WriteFailed("standard output", err) from None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.parquet is not None:
            self.parquet.close()
            if self.raw is not None:
                self.raw.flush()


class _Progress:
    """A Rich progress bar on stderr, only on a terminal and only once the batch has run a second."""

    def __init__(self, reader) -> None:
        self.reader = reader
        self.start = time.monotonic()
        self.enabled = _isatty(sys.stderr)
        self.bar: Any = None
        self.task: Any = None

    def update(self, rows: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.monotonic() - self.start < PROGRESS_AFTER:
                return
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            total = self.reader.total_bytes
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[rows]:,} rows"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                transient=True,
            )
            self.task = self.bar.add_task(self.reader.label, total=total, rows=rows)
            self.bar.start()
        self.bar.update(self.task, completed=self.reader.done_bytes, rows=rows)

    def say(self, line: str) -> None:
        """A warning, on its own line above the bar."""
        if self.bar is not None:
            self.bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            sys.stderr.write(line + "\n")

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
