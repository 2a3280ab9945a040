import os

import pytest
from budget import CI_EXAMPLES
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=CI_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("medium", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
settings.register_profile("long", max_examples=100_000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def grad():
    """grad(expr, at, mode) -> (value, [gradient...]) through the command core."""
    from adcli import core

    def _grad(expr, at, mode="reverse", wrt=None):
        r = core.run_grad(core.load(expr, at), mode, wrt)
        return float(r.value), [float(g) for g in r.gradient]

    return _grad
