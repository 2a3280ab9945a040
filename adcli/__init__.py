"""adcli: exact derivatives from the command line, explained."""

__version__ = "0.1.0"
__all__ = ["AdcliError", "Function", "compile"]


def compile(text: str, undefined: str = "raise"):
    """Compile an expression into a picklable function of its inputs: ``f(x1=a, x2=b)``,
    ``f.grad(...)``, ``f.hessian(...)`` over floats or numpy arrays (see adcli.api)."""
    from .api import compile as _compile

    return _compile(text, undefined)


def __getattr__(name: str):
    """``adcli.AdcliError`` and ``adcli.Function`` without importing them (or numpy) at ``import adcli``."""
    if name == "AdcliError":
        from .errors import AdcliError

        return AdcliError
    if name == "Function":
        from .api import Function

        return Function
    raise AttributeError(f"module 'adcli' has no attribute {name!r}")


# Exit codes (README, "Errors and exit codes").
OK, CHECK_FAILED, BAD_INPUT, CLOSED_PIPE, INTERNAL = 0, 1, 2, 141, 70


def main() -> None:
    """Console-script entry point: guard the standard streams, answer ``--version``,
    ``--help`` and the plain command lines (:mod:`adcli.fastpath`) before Typer
    is imported, and turn a failed write into an exit code (a closed pipe: 141
    and no message, as a tool killed by SIGPIPE; a full
    disk or a closed stdout: ``error: cannot write standard output``, 2)."""
    import sys

    from . import stdio

    _one_blas_thread()
    _few_collections()
    stdio.install()
    try:
        code = _dispatch(sys.argv[1:])
        sys.stdout.flush()
    except stdio.WriteFailed as failure:
        code = _write_failed(failure)
    except KeyboardInterrupt:  # before a command's own boundary (while importing)
        sys.stderr.write("interrupted\n")
        code = 130
    except ModuleNotFoundError as exc:  # run by an interpreter adcli was not installed into
        sys.stderr.write(
            f"adcli: a dependency is missing ({exc.name}): this Python ({sys.executable}) does not have adcli "
            "installed with its dependencies; run `python -m pip install .` (or use the adcli command)\n"
        )
        code = INTERNAL
    stdio.close_quietly()
    # What is alive now lives until the process ends: moved out of the collector's
    # reach, the collection the interpreter runs at shutdown does not walk it.
    import gc

    gc.freeze()
    sys.exit(code)


def _few_collections() -> None:
    """Collect the youngest generation every 50,000 allocations instead of every 2,000.
    A start imports numpy, lark and adcli (~100,000 long-lived objects, almost no
    cycles): at the default threshold the collector runs ~60 times over objects
    that never die, a tenth of what adcli adds to ``import numpy``. Cyclic garbage
    is still collected, in larger batches. Command line only, as above."""
    import gc

    gc.set_threshold(50_000, *gc.get_threshold()[1:])


def _one_blas_thread() -> None:
    """Start numpy's OpenBLAS with one thread unless the user chose a number. adcli's
    work is elementwise (ufuncs, which never use BLAS threads; its few matrix
    products and solves are small), while the pool that OpenBLAS starts when numpy
    is imported costs every start: on this project's 2-core machine 40-60 ms of CPU,
    a third of ``import numpy``. Only the command line does this, before numpy is
    imported; ``import adcli`` in a program leaves the environment alone."""
    import os
    import sys

    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _dispatch(argv: list[str]) -> int:
    import sys

    if argv == ["--version"]:
        sys.stdout.write(f"adcli {__version__}\n")
        return OK
    if argv in (["--help"], ["-h"]):
        from . import helppage

        sys.stdout.write(helppage.text(helppage.terminal_width()))
        return OK
    from .fastpath import run

    code = run(argv)  # the plain command lines, without importing Typer
    if code is not None:
        return code
    from .cli import entry

    return entry(argv)


def _write_failed(failure) -> int:
    import sys

    from . import stdio

    stdio.silence(sys.stdout)
    if failure.closed_pipe:
        return CLOSED_PIPE
    reason = failure.error.strerror or type(failure.error).__name__
    sys.stderr.write(f"error: cannot write {failure.stream}: {reason}\n")  # dropped if stderr is closed too
    return BAD_INPUT
