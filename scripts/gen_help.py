"""Regenerate adcli/_help.txt, the text of `adcli --help` on a terminal at
least 80 columns wide (click never formats help wider than 80).

    python scripts/gen_help.py

`adcli --help` prints this file instead of importing Typer (about 40 ms of a
cold start); tests/test_cli.py fails when it differs from what the Typer app
itself prints, so run this after changing a command's summary.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "adcli" / "_help.txt"
LIVE = "from adcli.cli import app; app(['--help'], prog_name='adcli')"


def live_help(columns: int = 100) -> str:
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-c", LIVE], check=True, capture_output=True, text=True, env=env, cwd=ROOT
    ).stdout


if __name__ == "__main__":
    OUT.write_text(live_help(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
