"""adcli: exact derivatives from the command line, explained."""

__version__ = "0.1.0"


def main() -> None:
    """Console-script entry point. ``--version`` answers before Typer is imported."""
    import sys

    if sys.argv[1:] == ["--version"]:
        sys.stdout.write(f"adcli {__version__}\n")
        return
    from .cli import entry

    entry()
