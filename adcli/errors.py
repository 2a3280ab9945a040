"""One error type for everything a user can get wrong, with where it happened.

Every error that reaches the user is an :class:`AdcliError` (a ``ValueError``, for
the Python API's callers); the renderer draws
the source line and a caret under ``span`` whatever the kind, and the CLI maps
every kind to exit code 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The kinds named in SPEC section 4.
PARSE = "parse"
NAME = "name"
DOMAIN = "domain"
INPUT = "input"
USAGE = "usage"
FILE = "file"

# Exit codes (SPEC section 4), for the CLI and the REPL alike.
OK, CHECK_FAILED, BAD_INPUT, INTERNAL, INTERRUPTED = 0, 1, 2, 70, 130


@dataclass
class AdcliError(ValueError):
    kind: str
    message: str
    source: str | None = None  # the text the span points into
    span: tuple[int, int] | None = None  # [start, end) offsets into source
    hint: str | None = None  # "did you mean ...", "write 2*x"
    label: str | None = None  # what the source is: "expression", "--at"
    extra: dict = field(default_factory=dict)  # structured details for --json

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        """Pickle by fields, so an error raised on a Dask or multiprocessing worker arrives whole."""
        return (AdcliError, (self.kind, self.message, self.source, self.span, self.hint, self.label, self.extra))

    def line_col(self) -> tuple[int, int] | None:
        """1-based line and column of the span start."""
        if self.source is None or self.span is None:
            return None
        start = min(self.span[0], len(self.source))
        line = self.source.count("\n", 0, start) + 1
        col = start - (self.source.rfind("\n", 0, start) + 1) + 1
        return line, col


@dataclass(frozen=True)
class Warning_:
    """A convention applied or a numeric hazard met; printed, never silent."""

    message: str
    span: tuple[int, int] | None = None  # where in ``source`` it happened
    source: str | None = None
