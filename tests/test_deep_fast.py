"""Issue 14's deep inputs, kept fast: adcli's one-regex lexer yields exactly
what Lark's contextual lexer yields (tokens, positions, every error), long
tables are laid out exactly as Rich lays them out, and parsing nested where,
nested max and long programs stays linear. The oracles are Lark's own lexer and
Rich itself, run side by side."""

from __future__ import annotations

import random
import time

import lark
import pytest

from adcli.lexer import OneRegexLexer
from adcli.parse import grammar_path, parse
from adcli.render import _RICH_ROWS, _plain_table, _rich_table, table_text


class _NewlinesInParens:
    """The postlexer adcli used with Lark's contextual lexer (before adcli/lexer.py)."""

    always_accept = ("_NL",)

    def process(self, stream):
        depth = 0
        for tok in stream:
            if tok.type in ("LPAR", "LSQB"):
                depth += 1
            elif tok.type in ("RPAR", "RSQB"):
                depth -= 1
            elif tok.type == "_NL" and depth > 0:
                continue
            yield tok


@pytest.fixture(scope="module")
def parsers():
    grammar = grammar_path().read_text(encoding="utf-8")
    ours = lark.Lark(grammar, parser="lalr", lexer=OneRegexLexer, maybe_placeholders=True)
    lark_own = lark.Lark(
        grammar, parser="lalr", lexer="contextual", maybe_placeholders=True, postlex=_NewlinesInParens()
    )
    return ours, lark_own


def _outcome(p: lark.Lark, text: str):
    """A parse's tree with every token's type, text and offsets, or its error's details."""
    try:
        tree = p.parse(text)
    except lark.exceptions.UnexpectedToken as e:
        hist = [(t.type, t.start_pos) for t in e.token_history or [] if t is not None]
        return ("token", e.token.type, str(e.token), e.token.start_pos, sorted(e.expected), hist)
    except lark.exceptions.UnexpectedCharacters as e:
        return ("char", e.pos_in_stream)
    toks = [(t.type, str(t), t.start_pos, t.end_pos) for t in tree.scan_values(lambda v: isinstance(v, lark.Token))]
    return ("tree", str(tree), toks)


CASES = [
    "x",
    "where(x > 0 and not y < 1 or (z == 2), a, b)",
    "where(not not x >= 1, 1, 2)",
    "and + or",
    "x and y",
    "where(x > 0 and, 1, 2)",
    "sum(x[i] for i=1..3) + len(x)",
    "[x^i for i = 1 .. n]",
    "lenx + forx + andy + notz",
    "for + len",
    "sum(x for i == 1..3)",
    "f(\n x,\n y\n)\n",
    "a = 1\n\nb = a; b\n",
    "a = (1 +\n 2)\r\nb = a\r\n b",
    "a = 1 \r\nb = a\t\r\n \r b",
    "x \r",
    "x \r$",
    " \f\t x \r\r\n",
    "x  +\t\t$",
    "x \\\n + 1",
    "2 x",
    "x ** 2 ** -1",
    "1..3",
    "1.e5 + .5e-3 + 2.",
    "x # comment\n",
    "x $ y",
    "x × y",
    "(((x)",
    "x))",
    "|x| + |y",
    "where(x <= 1, |x|, -x)",
    "x = ; y",
    "t = 1",
    "x², ٣ + 1",
    "max(1, 2, 3) + hypot(x)",
    "x ==",
    "x\n+ y",
    "x[1",
    "[x for i=1..2",
]

_WORDS = [
    "x", "y1", "and", "or", "not", "for", "len", "where", "sum", "1", "2.5", "1e3", ".5",
    "(", ")", "[", "]", ",", ";", "=", "==", "<", ">=", "+", "-", "*", "/", "^", "**",
    "|", "..", "\n", " ", "#c\n", "\\\n", "!", "'",
]  # fmt: skip


def test_tokens_and_errors_are_those_of_larks_contextual_lexer(parsers):
    ours, lark_own = parsers
    rng = random.Random(14)
    soup = ["".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 12))) for _ in range(400)]
    for text in CASES + soup:
        assert _outcome(ours, text) == _outcome(lark_own, text), repr(text)


def test_long_tables_are_laid_out_as_rich_lays_them_out():
    rng = random.Random(7)
    cells = ["a", "bc", "x₁", "∂f/∂x", "1.5", "-2e-3", "漢字", "", " ", "sin(x1 + 1)", "ñ", "─"]
    for _ in range(300):
        ncol, nrow = rng.randint(1, 5), rng.randint(0, 5)
        word = lambda: "".join(rng.choice(cells) for _ in range(rng.randint(0, 3)))  # noqa: E731
        headers = [word() for _ in range(ncol)]
        rows = [[word() for _ in range(ncol)] for _ in range(nrow)]
        right = {k for k in range(ncol) if rng.random() < 0.5}
        assert _plain_table(headers, rows, right) == _rich_table(headers, rows, right, None, None)


def test_a_table_past_richs_limit_prints_what_rich_would():
    rows = [[f"v{k}", f"sin(v{k - 1})" if k % 3 else f"v{k - 2}·v{k - 1}", f"{(k * 0.37) % 1:.6g}"] for k in range(600)]
    assert len(rows) > _RICH_ROWS
    text = table_text(["node", "definition", "value"], rows, {2}, width=200)
    assert text == _rich_table(["node", "definition", "value"], rows, {2}, None, None)


def _parse_time(text: str) -> float:
    best = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        parse(text)
        best = min(best, time.perf_counter() - t)
    return best


@pytest.mark.parametrize(
    "build",
    [
        lambda n: "where(x > 0.5, " * n + "x" + ", x + 1)" * n,
        lambda n: "max(" * n + "x" + ", 2*x)" * n,
        lambda n: "t0 = x\n" + "".join(f"t{i} = t{i - 1} + t{i - 1}\n" for i in range(1, n + 1)) + f"t{n}",
    ],
    ids=["nested where", "nested max", "program"],
)
def test_parsing_is_linear_in_depth_and_length(build):
    small, large = _parse_time(build(500)), _parse_time(build(2000))
    assert large < 9 * small, (small, large)  # a quadratic step would cost 16×
