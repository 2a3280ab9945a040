"""The Python API: ``adcli.compile(text)`` -> a function of the expression's inputs.

A :class:`Function` evaluates and differentiates over floats or numpy arrays
(any shapes that broadcast together), through the same engines as the CLI.
It pickles as its source text and re-parses on unpickling, so Dask, Spark or
multiprocessing can ship it to workers. Errors are :class:`adcli.AdcliError`,
a ``ValueError``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import INPUT, NAME, USAGE, AdcliError

UNDEFINED = ("raise", "nan")


def compile(text: str, undefined: str = "raise") -> Function:
    """Parse ``text`` (an expression or a program, as on the command line) once.

    ``undefined`` says what happens at a point outside the domain (``log(x)``
    at ``x = -1``): ``"raise"`` (an AdcliError naming the first such point)
    or ``"nan"`` (NaN in the results at those points, asked for explicitly)."""
    from .parse import parse

    if undefined not in UNDEFINED:
        raise AdcliError(USAGE, f"undefined={undefined!r}: use 'raise' or 'nan'")
    return Function(text, parse(text), undefined)


class Function:
    """A compiled expression. ``inputs`` are its input names, in order; ``outputs`` its number of outputs.

    - ``f(x1=a, x2=b)`` (or positionally, in ``inputs`` order): the value, an
      array of the broadcast shape (one output), or a list of them (several).
    - ``f.grad(...)``: ``{name: ∂f/∂name}``, one array per input.
    - ``f.hessian(...)``: ``{name_i: {name_j: ∂²f/∂name_i∂name_j}}``.

    Results are float64 numpy arrays of the broadcast shape of the arguments
    (``np.float64`` scalars when every argument is a scalar)."""

    def __init__(self, text: str, graph, undefined: str = "raise") -> None:
        self.text = text
        self.graph = graph
        self.undefined = undefined

    @property
    def inputs(self) -> list[str]:
        return list(self.graph.input_names)

    @property
    def outputs(self) -> int:
        return len(self.graph.outputs)

    def __repr__(self) -> str:
        return f"adcli.compile({self.text!r})"

    def __reduce__(self):
        return (compile, (self.text, self.undefined))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        problem, shape = self._problem(args, kwargs)
        values = [self._out(v, problem, shape) for v in problem.values.outputs]
        return values[0] if len(values) == 1 else values

    def grad(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The gradient of a scalar expression: one reverse sweep."""
        from .core import run_grad

        problem, shape = self._problem(args, kwargs)
        result = run_grad(problem)
        return {self.inputs[k]: self._out(g, problem, shape) for k, g in zip(result.wrt, result.gradient)}

    def hessian(self, *args: Any, **kwargs: Any) -> dict[str, dict[str, Any]]:
        """The exact Hessian of a scalar expression (forward-over-reverse)."""
        from .derivatives import run_hessian

        problem, shape = self._problem(args, kwargs)
        result = run_hessian(problem)
        names = [self.inputs[k] for k in result.wrt]
        return {
            a: {b: self._out(result.hessian[i][j], problem, shape) for j, b in enumerate(names)}
            for i, a in enumerate(names)
        }

    # -- binding arguments --------------------------------------------------------------------

    def _problem(self, args: tuple, kwargs: dict):
        """The arguments as one flat float64 array per input (or scalars), evaluated."""
        from .core import Problem, did_you_mean, listing
        from .evaluate import evaluate

        names = self.inputs
        if len(args) > len(names):
            raise AdcliError(USAGE, f"{len(args)} positional arguments, but the expression has {len(names)} inputs")
        given = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise AdcliError(
                    NAME,
                    f"{k} is not an input of the expression (its inputs: {listing(names)})",
                    hint=did_you_mean(k, [n for n in names if n not in given]),
                )
            if k in given:
                raise AdcliError(USAGE, f"{k} is given twice")
            given[k] = v
        missing = [n for n in names if n not in given]
        if missing:
            raise AdcliError(INPUT, f"missing value{'s' if len(missing) > 1 else ''} for {listing(missing)}")
        try:
            arrays = [np.asarray(given[n], dtype=np.float64) for n in names]
            shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
        except (TypeError, ValueError) as exc:
            raise AdcliError(INPUT, f"the arguments are not numbers of shapes that broadcast: {exc}") from None
        if shape == ():
            point: list[Any] = [np.float64(a) for a in arrays]
            values = evaluate(self.graph, point)
        else:
            point = [np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1) for a in arrays]
            values = evaluate(self.graph, point, mask_undefined=True)
            if values.first_error is not None and self.undefined == "raise":
                raise values.first_error
        return Problem(self.graph, point, values), shape

    def _out(self, v: Any, problem, shape: tuple) -> Any:
        a = np.asarray(v, dtype=np.float64)
        if shape == ():
            return np.float64(a.reshape(-1)[0]) if a.size else np.float64(np.nan)
        n = int(np.prod(shape))
        a = np.broadcast_to(a, (n,)).copy()
        bad = problem.values.undefined
        if bad is not False:
            a[np.broadcast_to(np.asarray(bad), (n,))] = np.nan  # only with undefined="nan"
        return a.reshape(shape)
