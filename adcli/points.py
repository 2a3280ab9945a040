"""Many points at once: ``--points FILE.csv`` and ``--random N --box``.

Points become one numpy array per input, so every engine pass serves all of
them at once (no Python loop per point).
"""

from __future__ import annotations

import io
import sys

import numpy as np

from .core import read_text_file, split_top_level
from .errors import INPUT, AdcliError


def read_points(arg: str, names: list[str], stdin=None) -> list[np.ndarray]:
    """Read a CSV of points (header = input names; "-" = stdin), aligned with ``names``."""
    return read_points_ordered(arg, names, stdin)[1]


def read_points_ordered(arg: str, names: list[str], stdin=None) -> tuple[list[str], list[np.ndarray]]:
    """The header's names in their order (the user's input order, SPEC 1), and
    the columns aligned with ``names``."""
    label = "standard input" if arg == "-" else arg
    text = (stdin if stdin is not None else sys.stdin).read() if arg == "-" else read_text_file(arg)
    lines = text.splitlines()
    header_at = next((k for k, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")), None)
    if header_at is None:
        raise AdcliError(INPUT, f"{label} is empty: expected a header line of input names")
    header_line = lines[header_at]
    header = [h.strip() for h in header_line.split(",")]
    where = f"{label}, line {header_at + 1}"
    seen: set[str] = set()
    for k, h in enumerate(header):
        span = _field_span(header_line, k)
        if h not in names:
            have = ", ".join(names) if names else "none"
            raise AdcliError(
                INPUT,
                f"column {h!r} is not an input of the expression (its inputs: {have})",
                header_line,
                span,
                label=where,
            )
        if h in seen:
            raise AdcliError(INPUT, f"column {h} appears twice", header_line, span, label=where)
        seen.add(h)
    missing = [n for n in names if n not in seen]
    if missing:
        raise AdcliError(
            INPUT,
            f"{label} has no column for {', '.join(missing)}",
            header_line,
            (0, len(header_line)),
            label=where,
            hint="the header line names every input",
        )
    body = [
        (k, line)
        for k, line in enumerate(lines[header_at + 1 :], start=header_at + 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not body:
        raise AdcliError(INPUT, f"{label} has a header but no points")
    try:
        data = np.loadtxt(io.StringIO("\n".join(line for _, line in body)), delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError:
        data = None
    if data is None or data.shape[1] != len(header):
        _locate_bad_field(body, len(header), label)
        raise AdcliError(INPUT, f"cannot read the points in {label}")  # pragma: no cover
    bad = ~np.isfinite(data)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        k, line = body[r]
        raise AdcliError(
            INPUT, f"{header[c]} is not a finite number", line, _field_span(line, c), label=f"{label}, line {k + 1}"
        )
    return header, [np.ascontiguousarray(data[:, header.index(n)]) for n in names]


def _field_span(line: str, k: int) -> tuple[int, int]:
    start = 0
    for _ in range(k):
        start = line.index(",", start) + 1 if "," in line[start:] else len(line)
    end = line.find(",", start)
    end = len(line) if end < 0 else end
    return (start, max(end, start + 1))


def _locate_bad_field(body: list[tuple[int, str]], width: int, label: str) -> None:
    for k, line in body:
        fields = line.split(",")
        where = f"{label}, line {k + 1}"
        if len(fields) != width:
            raise AdcliError(INPUT, f"expected {width} values, found {len(fields)}", line, (0, len(line)), label=where)
        for c, f in enumerate(fields):
            try:
                float(f)
            except ValueError:
                raise AdcliError(
                    INPUT, f"{f.strip()!r} is not a number", line, _field_span(line, c), label=where
                ) from None


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
