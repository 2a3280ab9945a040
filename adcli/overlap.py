"""--points in three overlapping stages: the next chunk is read and parsed, and the
last one written, while this one is computed and formatted. Reading (pyarrow's
parser, file reads) and writing (a pipe waiting for its reader) run outside the
GIL, so they take the time the main thread spends in numpy and orjson. Each
queue holds one chunk: memory stays a few chunks whatever the number of rows."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_END = object()
_POLL = 0.1  # seconds: how often a blocked stage looks whether the other side has gone


def ahead(items: Iterator[T]) -> Generator[T, None, None]:
    """``items``, produced one ahead by a thread; its exception is raised here, in order."""
    q: queue.Queue = queue.Queue(1)
    stop = threading.Event()

    def put(entry: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((_END, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # the generator's own clean-up (closing the file), in its thread

    threading.Thread(target=produce, name="adcli-read", daemon=True).start()
    try:
        while True:
            item, exc = q.get()
            if item is _END:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()


class Writer:
    """``write(data)`` hands ``data`` to a thread that calls ``sink(data)``; the first
    error of ``sink`` is raised by the next ``write`` or by ``close``, which waits for
    everything handed over to be written."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self.sink = sink
        self.error: BaseException | None = None
        self.reported = False
        self.q: queue.Queue = queue.Queue(1)
        self.thread = threading.Thread(target=self._run, name="adcli-write", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (data := self.q.get()) is not _END:
            if self.error is None:  # after an error, take and drop the rest, so write never blocks
                try:
                    self.sink(data)
                except BaseException as exc:  # raised in the main thread
                    self.error = exc

    def write(self, data: bytes) -> None:
        self._raise()
        self.q.put(data)

    def close(self) -> None:
        if self.thread.is_alive():
            self.q.put(_END)
            self.thread.join()
        self._raise()

    def _raise(self) -> None:
        if self.error is not None and not self.reported:
            self.reported = True
            raise self.error
