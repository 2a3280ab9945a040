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


def main() -> None:
    """Console-script entry point. ``--version`` answers before Typer is imported."""
    import sys

    if sys.argv[1:] == ["--version"]:
        sys.stdout.write(f"adcli {__version__}\n")
        return
    if sys.argv[1:] in (["--help"], ["-h"]) and _print_stored_help():
        return
    from .cli import entry

    entry()


def _print_stored_help() -> bool:
    """Print the pre-rendered top-level help (scripts/gen_help.py) when the
    terminal is at least 80 columns wide, where click's layout no longer
    depends on the width."""
    import shutil
    from pathlib import Path

    if shutil.get_terminal_size().columns < 80:
        return False
    try:
        text = (Path(__file__).parent / "_help.txt").read_text(encoding="utf-8")
    except OSError:
        return False
    import sys

    sys.stdout.write(text)
    return True
