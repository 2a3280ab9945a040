"""adcli: exact derivatives from the command line, explained."""

__version__ = "0.1.0"
