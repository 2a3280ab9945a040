"""The parser comes from Lark's public API with its on-disk cache: a missing,
corrupt or unwritable cache never changes what is parsed or what is printed."""

from __future__ import annotations

import os
import subprocess
import sys

GRAD = [sys.executable, "-m", "adcli", "grad", "(x1-x2)^2 + cos(x1+x2)", "--at", "x1=1,x2=2", "--json"]


def _run(cache_home):
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home))
    return subprocess.run(GRAD, env=env, capture_output=True, text=True, timeout=120)


def test_first_run_writes_the_cache_and_the_second_reads_it(tmp_path):
    first = _run(tmp_path)
    (cache,) = (tmp_path / "adcli").iterdir()
    stamp = cache.stat().st_mtime_ns
    second = _run(tmp_path)
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout and '"x1": -2.1411200080598674' in first.stdout
    assert first.stderr == second.stderr == ""
    assert cache.stat().st_mtime_ns == stamp  # read, not rebuilt


def test_a_corrupt_cache_is_rebuilt_silently(tmp_path):
    _run(tmp_path)
    (cache,) = (tmp_path / "adcli").iterdir()
    cache.write_bytes(b"not a lark cache\n\x00\x01")
    p = _run(tmp_path)
    assert p.returncode == 0 and p.stderr == "" and '"x2": 1.8588799919401329' in p.stdout


def test_an_unusable_cache_directory_is_no_cache(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory would go")
    p = _run(blocker)
    assert p.returncode == 0 and p.stderr == "" and '"x1": -2.1411200080598674' in p.stdout
