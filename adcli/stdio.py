"""Standard output and error as a Unix tool needs them, installed once by the
entry point: a write that fails (a closed pipe, a full disk, a closed descriptor)
becomes :class:`WriteFailed`, which the entry point turns into a quiet exit or
``error: cannot write standard output: ...``; a stream whose encoding cannot
show ``∂`` or ``v̄`` gets the ASCII spellings of :data:`ASCII` (``d``, ``v1_bar``)
from the codec error handler, so every writer (adcli, Rich, click) is covered
in this one place."""

from __future__ import annotations

import codecs
import errno
import io
import sys

TYPE_CHECKING = False  # typing costs a cold start tens of milliseconds; --version needs none of it
if TYPE_CHECKING:
    from typing import Any

HANDLER = "adcli-ascii"  # the codec error handler that transliterates
ASCII_CODEC = "adcli-ascii"  # ASCII plus the handler, under a name click does not rewrap

# Spellings for characters adcli prints. Combining marks and superscripts are
# handled by rule below (v̄1 -> v1_bar, ẋ -> x_dot, x² -> x^2, H⁻¹ -> H^-1).
ASCII: dict[str, str] = {
    "∂": "d",
    "·": "*",
    "×": "x",
    "−": "-",
    "±": "+/-",
    "→": "->",
    "←": "<-",
    "⇒": "=>",
    "≤": "<=",
    "≥": ">=",
    "≠": "!=",
    "≈": "~=",
    "∞": "inf",
    "∇": "grad ",
    "‖": "||",
    "√": "sqrt",
    "∑": "sum",
    "∏": "prod",
    "…": "...",
    "⋮": ":",
    "•": "*",
    "—": "--",
    "–": "-",
    "“": '"',
    "”": '"',
    "‘": "'",
    "’": "'",
    "′": "'",
    "λ": "lambda",
    "ε": "eps",
    "π": "pi",
    "θ": "theta",
    "σ": "sigma",
    "μ": "mu",
    "Δ": "Delta",
    "δ": "delta",
    "─": "-",
    "━": "-",
    "┈": "-",
    "│": "|",
    "┃": "|",
    "├": "|",
    "┤": "|",
    "┬": "+",
    "┴": "+",
    "┼": "+",
    "└": "`",
    "┌": "+",
    "┐": "+",
    "┘": "+",
    "\ufffd": "?",
}
_MARKS = {"\u0304": "_bar", "\u0305": "_bar", "\u0307": "_dot", "\u0308": "_ddot", "\u0302": "_hat", "\u0303": "_tilde"}
_SUPER = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺ᵀⁿ⁽⁾", "0123456789-+Tn()"))
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_[]")
_PROBE = "∂v̄·→"  # what a stream must encode to be shown as it is


def _spell(text: str, i: int) -> tuple[str, int]:
    """The ASCII spelling of text[i] and where to continue."""
    ch = text[i]
    if ch in _MARKS:  # the mark sits on a name's first letter: v̄12 -> v12_bar
        j = i + 1
        while j < len(text) and text[j] in _NAME_CHARS:
            j += 1
        return text[i + 1 : j] + _MARKS[ch], j
    if ch in _SUPER:
        return ("" if i > 0 and text[i - 1] in _SUPER else "^") + _SUPER[ch], i + 1
    if ch in ASCII:
        return ASCII[ch], i + 1
    if "\u2800" <= ch <= "\u28ff":  # Braille plot dots
        return (" " if ch == "\u2800" else "*"), i + 1
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", ch)
    if decomposed != ch and decomposed.isascii():
        return decomposed, i + 1
    if decomposed != ch and decomposed[0].isascii():  # ẋ -> x + combining dot
        return decomposed[0] + "".join(_MARKS.get(m, "") for m in decomposed[1:]), i + 1
    return "?", i + 1


def _handler(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text, i, parts = exc.object, exc.start, []
    while i < exc.end:
        spelled, i = _spell(text, i)
        parts.append(spelled)
    return "".join(parts), i


class _AsciiIncremental(codecs.IncrementalEncoder):
    def encode(self, text: str, final: bool = False) -> bytes:
        return text.encode("ascii", HANDLER)


def _search(name: str) -> codecs.CodecInfo | None:
    if name.replace("_", "-") != ASCII_CODEC:
        return None
    ascii_info = codecs.lookup("ascii")
    return codecs.CodecInfo(
        name=ASCII_CODEC,
        encode=lambda text, errors="strict": (text.encode("ascii", HANDLER), len(text)),
        decode=ascii_info.decode,
        incrementalencoder=_AsciiIncremental,
        incrementaldecoder=ascii_info.incrementaldecoder,
        streamreader=ascii_info.streamreader,
        streamwriter=ascii_info.streamwriter,
    )


_registered = False


def _register() -> None:
    global _registered
    if not _registered:
        codecs.register_error(HANDLER, _handler)
        codecs.register(_search)
        _registered = True


def can_show(stream: Any, text: str = _PROBE) -> bool:
    """Whether ``stream``'s encoding holds ``text`` as it is."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        if codecs.lookup(encoding).name == ASCII_CODEC:
            return False
        text.encode(encoding)
    except (UnicodeError, LookupError):
        return False
    return True


def transliterate(text: str) -> str:
    """``text`` in ASCII, spelled as a stream that cannot show it would write it."""
    _register()
    return text.encode("ascii", HANDLER).decode("ascii")


def for_stdout(text: str) -> str:
    """What standard output will show of ``text``: tables lay out this, so that
    a column stays aligned after ``v̄1`` becomes ``v1_bar``."""
    if text.isascii() or can_show(sys.stdout, text):
        return text
    _register()
    encoding = codecs.lookup(getattr(sys.stdout, "encoding", None) or "ascii").name
    encoding = "ascii" if encoding == ASCII_CODEC else encoding
    return text.encode(encoding, HANDLER).decode(encoding)


class WriteFailed(Exception):
    """Writing to standard output or error failed: the pipe closed, the disk is full..."""

    def __init__(self, stream: str, error: OSError) -> None:
        super().__init__(stream, error)
        self.stream = stream
        self.error = error

    @property
    def closed_pipe(self) -> bool:
        return isinstance(self.error, BrokenPipeError) or self.error.errno == errno.EPIPE


class _Closed(io.TextIOBase):
    """Stands in for a descriptor the shell closed (``>&-``): every write fails."""

    encoding = "utf-8"

    def write(self, s: str) -> int:
        if not s:
            return 0
        raise OSError(errno.EBADF, "Bad file descriptor")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class Guarded:
    """A text stream whose failed writes raise :class:`WriteFailed` naming it, or,
    for standard error (where the failure could not be reported), are dropped."""

    def __init__(self, stream: Any, name: str, fatal: bool = True) -> None:
        self._stream = stream
        self._name = name
        self._fatal = fatal

    def _failed(self, err: OSError) -> None:
        if self._fatal:
            raise WriteFailed(self._name, err) from None
        silence(self._stream)

    def write(self, s: str) -> int:
        try:
            return self._stream.write(s)
        except OSError as err:
            self._failed(err)
            return len(s)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as err:
            self._failed(err)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _prepared(stream: Any, name: str, fatal: bool) -> Guarded:
    if stream is None:
        return Guarded(_Closed(), name, fatal)
    if isinstance(stream, Guarded):
        return stream
    if not can_show(stream) and isinstance(stream, io.TextIOWrapper):
        stream.flush()
        if codecs.lookup(stream.encoding).name == "ascii":  # click rewraps streams it calls ASCII
            stream = io.TextIOWrapper(
                stream.buffer, encoding=ASCII_CODEC, errors=HANDLER, line_buffering=stream.line_buffering
            )
        else:
            stream.reconfigure(errors=HANDLER)
    return Guarded(stream, name, fatal)


def install() -> None:
    """Guard ``sys.stdout`` and ``sys.stderr`` and give them the ASCII fallback.
    A failed write to standard error is dropped: there is nowhere to say so."""
    _register()
    sys.stdout = _prepared(sys.stdout, "standard output", fatal=True)  # type: ignore[assignment]
    sys.stderr = _prepared(sys.stderr, "standard error", fatal=False)  # type: ignore[assignment]


def silence(stream: Any) -> None:
    """Point a failed stream at /dev/null, so that the interpreter's last flush of
    what is still buffered cannot fail again ("Exception ignored ...")."""
    import os

    try:
        fd = stream.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass


def close_quietly() -> None:
    """Flush both streams at exit; report nothing (the caller decided the exit code)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (WriteFailed, OSError, ValueError):
            silence(stream)
