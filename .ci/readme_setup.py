"""Read README.md's "Set up" section for .ci/run: `commands` prints its two
set-up commands (one a line), `output` what the README says the first prints."""

from __future__ import annotations

import sys
from pathlib import Path

lines = Path(__file__).resolve().parent.parent.joinpath("README.md").read_text(encoding="utf-8").splitlines()
start = lines.index("## Set up")
end = next(k for k in range(start + 1, len(lines)) if lines[k].startswith("## "))
section = lines[start:end]
commands = [s.strip() for s in section if s.startswith("    python -m pip install")]

if sys.argv[1:] == ["commands"]:
    print("\n".join(commands))
elif sys.argv[1:] == ["output"]:
    k = next(k for k, s in enumerate(section) if s.strip() == "which prints")
    block = []
    for s in section[k + 1 :]:
        if s.startswith("    "):
            block.append(s[4:])
        elif block:
            break
    print("\n".join(block))
else:
    sys.exit("usage: readme_setup.py commands|output")
