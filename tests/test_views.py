"""The render table and the options mixins: every result at a point has a View,
its document has the shared header, and shared options keep --help's order."""

from __future__ import annotations

import dataclasses

import pytest

from adcli import core, derivatives, render
from adcli.commands import COMMANDS, AtPoint, Shown

RESULT_MODULES = (core, derivatives)


def _point_results() -> list[type]:
    """The result classes of the core: dataclasses holding a problem and warnings."""
    out = []
    for mod in RESULT_MODULES:
        for obj in vars(mod).values():
            if isinstance(obj, type) and obj.__module__ == mod.__name__ and dataclasses.is_dataclass(obj):
                names = {f.name for f in dataclasses.fields(obj)}
                if {"problem", "warnings"} <= names:
                    out.append(obj)
    return out


def test_every_result_at_a_point_has_a_view():
    classes = _point_results()
    assert len(classes) >= 9  # eval, grad, trace, jvp, vjp, jacobian, hessian, hvp, implicit
    render._VIEWS.clear()
    render._register_views()
    missing = [c.__name__ for c in classes if c not in render._VIEWS]
    assert not missing, f"no render.View for {missing}"


def _results():
    p = core.load("x^2*y + sin(x*y)", "x=1,y=2")
    return [
        core.run_eval(p),
        core.run_grad(p, "reverse", None, True),
        derivatives.run_jacobian(p, "forward", None, record=True),
        derivatives.run_hessian(p, None, record=True),
    ]


@pytest.mark.parametrize("trace,steps", [(False, False), (True, False), (False, True), (True, True)])
def test_documents_share_one_header(trace, steps):
    for r in _results():
        keys = list(render.result_json(r, trace, steps))
        assert keys[:2] == ["inputs", "point"]
        extra = [k for k in ("trace", "steps") if k in keys]
        assert keys[len(keys) - len(extra) - 1] == "warnings"  # what --trace/--steps add comes last
        assert bool(extra) == (trace or steps)


def test_explained_text_ends_with_the_result():
    for r in _results():
        plain = render.result_text(r, 6)
        explained = render.result_text(r, 6, True, True)
        assert explained.endswith("\n\n" + plain)
        assert len(explained) > len(plain)


def test_shared_options_keep_their_place():
    """AtPoint's fields lead, Shown's close, and no field is given twice."""
    for name, cmd in COMMANDS.items():
        flds = [f for f, _, _ in cmd.specs()]
        assert len(flds) == len(set(flds)), name
        if issubclass(cmd.declared, AtPoint):
            assert flds[:3] == ["expr", "at", "const"], name
        if issubclass(cmd.declared, Shown):
            assert flds[-2:] == ["as_json", "digits"], name
