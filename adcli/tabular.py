"""Results over many points -> JSON Lines, CSV or Parquet, a chunk of rows at a time.

Every row of a chunk has the same shape: fixed texts (keys, commas, brackets)
between per-point numbers. So a chunk is written as columns: each column of
numbers is formatted in one call (orjson's shortest round-trip formatting when
installed, else ``repr``), then the texts and numbers are interleaved by list
slicing and joined once. No Python runs per row except for undefined rows, and
per number only outside [1e-4, 1e16), where ``repr`` switches to exponent
notation and orjson writes it differently. The text is the same as
``json.dumps`` of each row's document (``repr`` for CSV), byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

UNDEFINED = {"kind": "domain", "message": "the expression is undefined at this point"}

_orjson: Any
try:  # a dependency, but the text is identical without it (format_rows_slow)
    import orjson as _orjson
except ImportError:  # pragma: no cover - the slow path is tested directly
    _orjson = None


def _json(x: Any) -> str:
    from .render import jsonable

    return json.dumps(jsonable(x), ensure_ascii=False, allow_nan=False)


def _is_column(x: Any, m: int) -> bool:
    """Per-point data: arrays over the points have the points on their first axis."""
    return isinstance(x, np.ndarray) and x.ndim >= 1 and x.shape[0] == m


@dataclass
class Layout:
    """One chunk's rows: ``texts[0] col[0] texts[1] col[1] ... texts[k]``, per row.

    The first ``point_columns`` columns are the point; an undefined row keeps
    them and ends with ``undefined_tail`` instead of the rest."""

    texts: list[str]
    columns: list[np.ndarray]
    point_columns: int
    undefined_tail: str
    json_numbers: bool  # non-finite as "NaN"/"Infinity" (JSON) or as repr (CSV)

    def add(self, text: str) -> None:
        self.texts[-1] += text

    def column(self, col: np.ndarray) -> None:
        self.columns.append(col)
        self.texts.append("")


def jsonl_layout(doc: dict, m: int) -> Layout:
    """The layout of ``json.dumps(row)`` for each row of ``doc`` (whose ``point`` comes first)."""
    lay = Layout(["{"], [], 0, "", True)
    closing = "}"
    for k, (key, value) in enumerate(doc.items()):
        lay.add((", " if k else "") + json.dumps(str(key), ensure_ascii=False) + ": ")
        _json_layout(value, m, lay)
        if k == 0:
            lay.point_columns = len(lay.columns)
            closing = lay.texts[-1]  # what closes the point after its last number: "}", or "]}" for a vector
    lay.add("}\n")
    lay.undefined_tail = closing + ", " + json.dumps("error") + ": " + _json(UNDEFINED) + "}\n"
    return lay


def _json_layout(x: Any, m: int, lay: Layout) -> None:
    if isinstance(x, dict):
        lay.add("{")
        for k, (key, value) in enumerate(x.items()):
            lay.add((", " if k else "") + json.dumps(str(key), ensure_ascii=False) + ": ")
            _json_layout(value, m, lay)
        lay.add("}")
    elif isinstance(x, (list, tuple)) or (_is_column(x, m) and x.ndim > 1):
        items = list(x) if isinstance(x, (list, tuple)) else [x[:, j] for j in range(x.shape[1])]
        lay.add("[")
        for k, value in enumerate(items):
            lay.add(", " if k else "")
            _json_layout(value, m, lay)
        lay.add("]")
    elif _is_column(x, m):
        lay.column(x)
    else:
        lay.add(_json(x))


def csv_columns(doc: dict, m: int, inputs: list[str]) -> list[tuple[str, Any]]:
    """A command's document flattened to named CSV columns: the point's inputs,
    then every per-point number (``hessian_1_2``, ``vjp_x1``); names, modes and
    sweep counts are left to the header's reader."""
    flat: list[tuple[str, Any]] = []
    _flatten(doc, "", m, flat)
    point = dict(flat)
    cols = [(x, point[f"point_{x}"]) for x in inputs]
    for name, v in flat:
        if name.startswith("point_") or name == "sweeps" or isinstance(v, str):
            continue
        cols.append((name, v))
    return cols


def _flatten(x: Any, prefix: str, m: int, out: list[tuple[str, Any]]) -> None:
    if isinstance(x, dict):
        for k, v in x.items():
            _flatten(v, f"{prefix}_{k}" if prefix else str(k), m, out)
    elif _is_column(x, m):
        if x.ndim == 1:
            out.append((prefix, x))
        else:
            for j in range(x.shape[1]):
                _flatten(x[:, j], f"{prefix}_{j + 1}", m, out)
    elif isinstance(x, (list, tuple)) or (isinstance(x, np.ndarray) and x.ndim):
        for k, v in enumerate(x):
            _flatten(v, f"{prefix}_{k + 1}", m, out)
    else:
        out.append((prefix, x))


def csv_layout(columns: list[tuple[str, Any]], m: int, point_columns: int) -> Layout:
    """One CSV row per point: the columns, then an empty ``error`` cell (``undefined`` where it is)."""
    from .render import jsonable

    lay = Layout([""], [], 0, "", False)
    for k, (_, v) in enumerate(columns):
        lay.add("," if k else "")
        if _is_column(v, m):
            lay.column(np.asarray(v))
        else:  # the same number at every point
            c = jsonable(v)
            lay.add("" if c is None else str(c) if isinstance(c, (bool, int)) else repr(float(v)))
        if k + 1 == point_columns:
            lay.point_columns = len(lay.columns)
    lay.add(",\n")
    lay.undefined_tail = "," * (len(columns) - point_columns) + ",undefined\n"
    return lay


def csv_header(columns: list[tuple[str, Any]]) -> str:
    return ",".join([name for name, _ in columns] + ["error"]) + "\n"


BLOCK_BYTES = 1 << 22  # text made at a time: about 4 MiB, so a wide row (a Hessian's) means fewer rows


def format_blocks(lay: Layout, m: int, undefined: np.ndarray) -> Iterator[bytes]:
    """The chunk's rows as text, a block of rows at a time: memory follows the text's
    size, whatever the number of rows a chunk of input holds."""
    step = max(1, BLOCK_BYTES // (sum(map(len, lay.texts)) + 24 * len(lay.columns)))
    if step >= m:
        yield format_rows(lay, m, undefined)
        return
    bad = np.broadcast_to(np.asarray(undefined, dtype=bool), (m,))
    for r in range(0, m, step):
        cols = [np.asarray(c)[r : r + step] for c in lay.columns]
        part = Layout(lay.texts, cols, lay.point_columns, lay.undefined_tail, lay.json_numbers)
        yield format_rows(part, len(bad[r : r + step]), bad[r : r + step])


def format_rows(lay: Layout, m: int, undefined: np.ndarray) -> bytes:
    """The chunk's ``m`` rows as UTF-8 text."""
    if _orjson is None or any("null" in t or "e+25" in t or "],[" in t for t in [*lay.texts, lay.undefined_tail]):
        return format_rows_slow(lay, m, undefined)  # a text the passes below would take for their own
    return _format_rows_orjson(lay, m, np.asarray(undefined, dtype=bool))


def _sentinel(k: int) -> float:
    """Marker numbers, one per distinct text between columns: 1e+250, 2e+250, ... No
    number of ours is written next to them: a cell outside [1e-4, 1e16) is written as
    null first and gets its ``repr`` text only after the markers are replaced."""
    return float(f"{k + 1}e250")


def _format_rows_orjson(lay: Layout, m: int, bad: np.ndarray) -> bytes:
    """orjson writes the whole chunk as one matrix, ``[[a,b,c],[d,e,f]]``: the numbers,
    with a marker number wherever the text between two numbers of a row is not a
    plain comma (one marker per distinct text). Then, all rows at once
    (``bytes.replace``), each marker becomes its text and ``],[`` the row break."""
    k, P, texts = len(lay.columns), lay.point_columns, lay.texts
    any_bad = bool(bad.any())
    marker: dict[str, float] = {}
    slot_of: dict[int, float] = {}  # text index -> marker
    for j in range(1, k):
        if texts[j] != "," or (any_bad and j == P):
            slot_of[j] = marker.setdefault(texts[j], _sentinel(len(marker)))
    width = k + len(slot_of)
    M = np.empty((m, width), dtype=np.float64)
    data_pos, slot_pos, pos = [], {}, 0
    for j in range(k):
        if j in slot_of:
            slot_pos[j] = pos
            M[:, pos] = slot_of[j]
            pos += 1
        data_pos.append(pos)
        M[:, pos] = np.asarray(lay.columns[j], dtype=np.float64)
        pos += 1
    odd_cols = []  # per column: the rows where orjson and repr differ (outside [1e-4, 1e16)), or NaN/inf
    with np.errstate(invalid="ignore"):
        for p in data_pos:
            a = np.abs(M[:, p])
            odd = ~(((a >= 1e-4) & (a < 1e16)) | (a == 0))
            odd_cols.append(odd if odd.any() else None)
    fixes: list[bytes] = []
    if any(o is not None for o in odd_cols):
        where = np.zeros(M.shape, dtype=bool)
        for odd, p in zip(odd_cols, data_pos):
            if odd is not None:
                where[:, p] = odd
        if any_bad:
            where[bad, data_pos[P] :] = False  # P < k: a row always has more than its point
        for v in M[where].tolist():  # row-major: the order orjson writes them in
            text = repr(v)
            fixes.append(_NONFINITE_JSON.get(text, text.encode()) if lay.json_numbers else text.encode())
        M[where] = np.nan  # orjson writes null, replaced below in order
    blank, undef = _sentinel(len(marker)), _sentinel(len(marker) + 1)
    if any_bad:
        M[bad, slot_pos[P]] = undef
        M[bad, slot_pos[P] + 1 :] = blank
    out = _orjson.dumps(M, option=_orjson.OPT_SERIALIZE_NUMPY)
    first, end = texts[0].encode("utf-8"), texts[k].encode("utf-8")
    last = end
    if any_bad:
        tail, sb = lay.undefined_tail.encode("utf-8"), _orjson.dumps(undef)
        out = out.replace(b"," + _orjson.dumps(blank), b"")
        out = out.replace(b"," + sb + b"],[", tail + first)
        if bad[-1]:
            out, last = out[: -len(sb) - 3] + b"]]", tail
    for text, v in marker.items():
        out = out.replace(b"," + _orjson.dumps(v) + b",", text.encode("utf-8"))
    out = out.replace(b"],[", end + first)  # last: the largest expansion, so the passes before scan less
    view, at = memoryview(out), 2
    pieces: list[Any] = [first]
    for fix in fixes:  # memoryview slices between the nulls, with the fixes, joined in one copy
        hit = out.find(b"null", at)
        pieces += [view[at:hit], fix]
        at = hit + 4
    pieces += [view[at:-2], last]
    return b"".join(pieces)


def format_rows_slow(lay: Layout, m: int, undefined: np.ndarray) -> bytes:
    """The same text without orjson: ``repr`` per number, joined once."""
    texts = [t.encode("utf-8") for t in lay.texts]
    stride = 2 * len(lay.columns) + 1
    flat: list[bytes] = [b""] * (m * stride)
    for j, t in enumerate(texts):
        if t:
            flat[2 * j :: stride] = [t] * m
    for j, col in enumerate(lay.columns):
        flat[2 * j + 1 :: stride] = number_cells(
            np.broadcast_to(np.asarray(col, dtype=np.float64), (m,)), lay.json_numbers
        )
    bad = np.flatnonzero(undefined)
    if len(bad):
        at = 2 * lay.point_columns
        tail, blanks = lay.undefined_tail.encode("utf-8"), [b""] * (stride - at - 1)
        for r in bad.tolist():
            base = r * stride
            flat[base + at] = tail
            flat[base + at + 1 : base + stride] = blanks
    return b"".join(flat)


_NONFINITE_JSON = {"nan": b'"NaN"', "inf": b'"Infinity"', "-inf": b'"-Infinity"'}


def number_cells(col: np.ndarray, json_numbers: bool) -> list[bytes]:
    """Each number as ``repr`` writes it; non-finite ones per the JSON rule when ``json_numbers``."""
    cells = [repr(v).encode() for v in col.tolist()]
    if json_numbers:
        for k in np.flatnonzero(~np.isfinite(col)).tolist():
            cells[k] = _NONFINITE_JSON[repr(float(col[k]))]
    return cells


# -- whole documents (the non-streaming entry points in render.py) ----------------------------


# -- Parquet ----------------------------------------------------------------------------------


class ParquetRows:
    """The CSV columns as a Parquet file, one row group per chunk; undefined rows have
    nulls for their results and ``undefined`` in ``error``."""

    def __init__(self, sink) -> None:
        from .points import _arrow

        self.pa = _arrow("--format parquet")
        import pyarrow.parquet as pq

        self.pq, self.sink = pq, sink
        self.writer: Any = None

    def write(self, columns: list[tuple[str, Any]], m: int, point_columns: int, undefined: np.ndarray) -> None:
        pa = self.pa
        bad = np.asarray(undefined, dtype=bool)
        arrays = {}
        # arrays built from their buffers: pa.array of a numpy array or a list imports pandas
        # when it is installed (0.3 s, mid-stream)
        nulls = int(bad.sum())
        valid = pa.py_buffer(np.packbits(~bad, bitorder="little")) if nulls else None
        for k, (name, v) in enumerate(columns):
            col = np.ascontiguousarray(np.broadcast_to(np.asarray(v, dtype=np.float64), (m,)))
            masked = k >= point_columns and nulls
            arrays[name] = pa.Array.from_buffers(
                pa.float64(), m, [valid if masked else None, pa.py_buffer(col)], null_count=nulls if masked else 0
            )
        if nulls:  # "undefined" where a row is, null elsewhere
            word = b"undefined"
            offsets = np.zeros(m + 1, dtype=np.int32)
            np.cumsum(bad * len(word), out=offsets[1:])
            data = pa.py_buffer(word * nulls)
            arrays["error"] = pa.Array.from_buffers(
                pa.string(),
                m,
                [pa.py_buffer(np.packbits(bad, bitorder="little")), pa.py_buffer(offsets), data],
                null_count=m - nulls,
            )
        else:
            arrays["error"] = pa.nulls(m, pa.string())
        table = pa.table(arrays)
        if self.writer is None:
            self.writer = self.pq.ParquetWriter(self.sink, table.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
