"""Reading an export file in a second process beside the one that checks or writes it.

A long import is plain Python on one core: its reading (parsing every row, twice) can run on
another. `Forked` runs a generator in a fork of the importing process, so the fork shares what
the importer knows (settings, the spec, the names resolved so far) without sending it, and
passes each item back through a pipe. The reader runs at most `ahead` items ahead of the
importer, held as pickled bytes, so memory stays flat.

Only a program's main thread forks (the import command, a web server's worker process): an
import run from another thread (a threaded server's request) reads in that thread instead, as
on a platform without fork, since forking while another thread holds a lock is unsafe. The
reader runs only the reading (the file, parsing, names already loaded), reads the file through
its own descriptor, and never touches the database connection it inherits.
"""

import gc
import io
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import BinaryIO

from audit.imports.errors import ExportRefused, Problem
from audit.log.bulk import gc_paused


def can_fork() -> bool:
    """Whether a reader process may be forked from here (see the module docstring)."""
    return (
        threading.current_thread() is threading.main_thread()
        and "fork" in multiprocessing.get_all_start_methods()
    )


def _descriptor_path(binary: BinaryIO) -> str | None:
    """Where the file under `binary` can be opened again, or None for a file in memory."""
    try:
        descriptor = binary.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    return f"/proc/self/fd/{descriptor}"


def own_reading(binary: BinaryIO) -> BinaryIO:
    """The file as the reader process may read it: a file of its own on the same data, read
    from the start. A file descriptor shared with the importer would share its position."""
    path = _descriptor_path(binary)
    if path is None:
        binary.seek(0)  # in memory: the fork's copy is its own
        return binary
    return open(path, "rb")  # the reader's until it ends


def reopenable(binary: BinaryIO) -> bool:
    """Whether `own_reading` can give the reader its own reading of `binary`."""
    path = _descriptor_path(binary)
    return path is None or os.path.exists(path)


class Forked:
    """What `make()` yields, made in a forked reader process (see the module docstring).

    The process starts at once (before the caller starts threads of its own); iterate over
    the items, then `close()`, which stops the reader if it is still reading. The reader's
    ExportRefused is raised here as it was there; any other failure of the reader raises
    RuntimeError with its traceback. Items go through the pipe pickled: plain tuples, lists
    and strings read back fastest.
    """

    def __init__(
        self, make: Callable[[], Iterator], *, ahead: int = 1, name: str = "sightline-import-reader"
    ):
        context = multiprocessing.get_context("fork")
        self._receiving, sending = context.Pipe(duplex=False)
        self._reader = context.Process(
            target=_run, args=(make, self._receiving, sending, ahead), name=name, daemon=True
        )
        self._reader.start()
        sending.close()

    def __iter__(self) -> Iterator:
        while True:
            try:
                # An item (a piece of a chunk of rows) is many small objects, all kept until
                # they are written: the collector's passes over them would find nothing to free.
                with gc_paused():
                    kind, payload = self._receiving.recv()
            except EOFError:
                self._reader.join(5)
                raise RuntimeError(
                    f"the import's reader process stopped (exit code {self._reader.exitcode})"
                ) from None
            if kind == "item":
                yield payload
            elif kind == "refused":
                problems, unlisted = payload
                raise ExportRefused([Problem(*p) for p in problems], unlisted)
            elif kind == "failed":
                raise RuntimeError(f"the import's reader process failed:\n{payload}")
            else:
                return

    def close(self) -> None:
        self._receiving.close()
        if self._reader.is_alive():
            self._reader.terminate()
            self._reader.join(5)
        if self._reader.is_alive():  # a handler of the importer's kept SIGTERM from ending it
            self._reader.kill()
        self._reader.join()


def _run(make: Callable[[], Iterator], receiving, sending, ahead: int) -> None:
    """The reader process: each item down the pipe, then how the reading ended.

    Items are pickled as soon as they are made and sent by a thread of their own, so the
    reader runs up to `ahead` items ahead of the importer (as bytes, the smallest form) while
    the pipe is full.
    """
    # The importer's end of the pipe is the importer's only: with it closed here, a send
    # fails once the importer is gone.
    receiving.close()
    # The importer's own handler (a web server worker's, say) would not end the reader.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # What the importer held when it forked stays as it is: the collector skips it.
    gc.freeze()
    outbox: queue.Queue = queue.Queue(maxsize=max(ahead, 1))
    sender = threading.Thread(target=_send_all, args=(outbox, sending), daemon=True)
    sender.start()

    def post(message) -> None:
        outbox.put(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    try:
        for item in make():
            post(("item", item))
    except ExportRefused as refused:
        problems = [(p.line, p.message) for p in refused.problems]
        post(("refused", (problems, refused.unlisted)))
    except BaseException:  # whatever it was, the importer must hear of it
        post(("failed", traceback.format_exc()))
    else:
        post(("done", None))
    finally:
        outbox.put(None)
        sender.join()
        sending.close()


def _send_all(outbox: queue.Queue, sending) -> None:
    while (message := outbox.get()) is not None:
        try:
            sending.send_bytes(message)
        except OSError:  # the importer is gone: so is the reader, whatever it was doing
            os._exit(1)
