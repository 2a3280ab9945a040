"""adcli/_lalr.py (the pre-built parse tables) must be generated from the
grammar as it is now: run `python scripts/gen_parser.py` after editing it."""

import importlib.util
from pathlib import Path

from lark import Lark

from adcli import parse as P

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("gen_parser", ROOT / "scripts" / "gen_parser.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tables_come_from_the_current_grammar():
    gen = _generator()
    header = (ROOT / "adcli" / "_lalr.py").read_text(encoding="utf-8").splitlines()[1]
    assert header == f"# grammar sha256: {gen.grammar_hash()}", "run python scripts/gen_parser.py"


def test_tables_parse_like_lark_built_from_the_grammar_file():
    """The same token sequences are accepted and rejected by both parsers."""
    fresh = Lark(
        P.grammar_path().read_text(encoding="utf-8"), parser="lalr", lexer="contextual", postlex=P._NewlinesInParens()
    )
    from adcli._lalr import Lark_StandAlone

    built = Lark_StandAlone(postlex=P._NewlinesInParens())
    for text in ["(x1-x2)^2 + cos(x1+x2)", "t = x; t^2", "where(x <= 1, -x^2, 2^-x)", "f(", "2x", "a,b\n c"]:
        outcomes = []
        for parser in (fresh, built):
            try:
                outcomes.append(parser.parse(text).pretty())
            except Exception as exc:
                outcomes.append(type(exc).__name__)
        assert outcomes[0] == outcomes[1], text
