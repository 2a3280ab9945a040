"""How many examples a property test runs: its own count on CI, or the long
profiles' (``--hypothesis-profile=medium``: 10,000, ``long``: 100,000) when
one of those is loaded."""

from hypothesis import settings

CI_EXAMPLES = 100  # the "ci" profile's max_examples (conftest.py)


def examples(n: int) -> int:
    profile = settings.default.max_examples
    return profile if profile > CI_EXAMPLES else n
