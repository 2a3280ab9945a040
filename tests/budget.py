"""How many examples a property test runs: its own count on CI, or the long
profile's (``--hypothesis-profile=long``: 100,000) when that is larger."""

from hypothesis import settings


def examples(n: int) -> int:
    return max(n, settings.default.max_examples)
