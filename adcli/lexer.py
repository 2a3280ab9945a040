"""The lexer Lark runs for grammar/adcli.lark: every terminal in one compiled regex.

Lark's contextual lexer costs several Python calls a token (a per-state scanner,
a line counter, a postlexer generator). This one matches all terminals at once,
in the order Lark's own lexers use, and yields exactly the tokens the contextual
lexer would: a word that is a keyword (and, or, not, for, len) is the keyword
where the parser accepts it, else a NAME where the parser accepts a name. It also
drops a new line inside parentheses (that is whitespace there, a separator
elsewhere). Only tokens the parser accepts are yielded; at the first one it would
not accept (or a character no terminal matches), the rest of the text is handed
to Lark's ContextualLexer, so every error, with its position and expected set, is
the one Lark raises. Tokens carry start and end offsets, not lines and columns:
adcli locates everything by offset.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator

from lark.lexer import ContextualLexer, Lexer, Token

_OPEN, _CLOSE = frozenset({"LPAR", "LSQB"}), frozenset({"RPAR", "RSQB"})


class _Tok(Token):
    """A Token with only type, value and offsets set (one attribute store each)."""

    __slots__ = ()  # no instance dict: a million tokens, a million dicts fewer
    line = column = end_line = end_column = None


class OneRegexLexer(Lexer):
    """Lark's custom-lexer interface (``lexer=`` a Lexer subclass, interface 2)."""

    __future_interface__ = 2

    def __init__(self, conf) -> None:
        self.conf = conf
        terminals = list(conf.terminals)
        strings = [t for t in terminals if t.pattern.type == "str"]
        self.keywords: dict[str, dict[str, str]] = {}
        embedded = set()
        for t in terminals:  # a string a regex terminal matches whole is a keyword of it (as Lark's lexer does)
            if t.pattern.type != "re":
                continue
            rx = re.compile(t.pattern.to_regexp(), conf.g_regex_flags)
            for s in strings:
                if s.priority == t.priority and rx.fullmatch(s.pattern.value):
                    self.keywords.setdefault(t.name, {})[s.pattern.value] = s.name
                    embedded.add(s.name)
        kept = [t for t in terminals if t.name not in embedded]
        kept.sort(key=lambda x: (-x.priority, -x.pattern.max_width, -len(x.pattern.value), x.name))  # Lark's order
        pattern = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in kept)
        self.ignore = frozenset(conf.ignore)
        # Blanks before a token are skipped by the same match (one regex call a token, not
        # two): a run that starts with a space, tab or form feed and goes on exactly as
        # the ignored blanks' own run would (a run starting with \r is left to the
        # alternatives, which may read \r\n as a new line, as before).
        self.blank = ""
        for t in kept:
            rx = t.pattern.to_regexp()
            if t.name in self.ignore and re.fullmatch(r"\[[^\]]*\]\+", rx) and rx[1] == " ":
                self.blank = f"(?:[ \\t\\f]{rx[:-1]}*)?"
        self.match = re.compile(self.blank + "(?:" + pattern + ")", conf.g_regex_flags).match
        self.single = self._single_characters(re.compile(pattern, conf.g_regex_flags).match)
        self._contextual: ContextualLexer | None = None

    def _single_characters(self, match) -> dict[str, str]:
        """Characters that are a whole token whatever follows them ("(", ",", "+",
        but not "*", which may begin "**"): char -> terminal. The lexer reads
        these without a regex call. Found by asking the regex itself, with every
        printable ASCII character (and a few others) after the character."""
        tails = ["a", "0", ".", "\n", "é", "٣", "²", *map(chr, range(32, 127))]
        tails += [a + b for a in "*.=<>!&|/-+" for b in "*.=<>!&|/-+"]
        single = {}
        for c in map(chr, range(33, 127)):
            m = match(c)
            if m is None or m.span() != (0, 1) or m.lastgroup in self.ignore:
                continue
            hit = m.lastgroup
            # every tail tried only while the answer stays the same (a letter fails at once)
            if all((m := match(c + t)) is not None and m.lastgroup == hit and m.span() == (0, 1) for t in tails):
                single[c] = hit  # type: ignore[index]  # a named group
        return single

    def _fallback(self, parser_state) -> ContextualLexer:
        """Lark's contextual lexer over the same parse table, built on first need."""
        if self._contextual is None:
            table = parser_state.parse_conf.parse_table.states
            states: dict[int, Collection[str]] = {i: list(t.keys()) for i, t in table.items()}
            self._contextual = ContextualLexer(self.conf, states, always_accept=("_NL",))
        return self._contextual

    def lex(self, lexer_state, parser_state) -> Iterator[Token]:
        text, end = lexer_state.text.text, lexer_state.text.end
        line_ctr = lexer_state.line_ctr
        pos = line_ctr.char_pos
        match, ignore, keywords = self.match, self.ignore, self.keywords
        states, stack = parser_state.parse_conf.states, parser_state.state_stack
        new = str.__new__
        depth = 0
        last: Token | None = None
        single = self.single
        while pos < end:
            c = text[pos]
            if c == " ":  # the usual one blank between tokens
                pos += 1
                if pos == end:
                    break
                c = text[pos]
            one = single.get(c)
            if one is not None:
                typ, start, stop, value = one, pos, pos + 1, c
            else:
                m = match(text, pos)
                if m is None:
                    break
                typ = m.lastgroup  # type: ignore[assignment]  # every alternative is a named group
                if typ in ignore:
                    pos = m.end()
                    continue
                start, stop = m.span(typ)
                value = m.group(typ)
            if typ == "_NL":  # the contextual lexer always lexes a new line; the parser judges it
                if depth:
                    pos = stop
                    continue
            else:
                accepts = states[stack[-1]]
                words = keywords.get(typ)
                if words is not None:
                    kw = words.get(value)
                    if kw is not None and (kw in accepts or typ not in accepts):
                        typ = kw
                if typ not in accepts:
                    pos = start
                    break  # an error, or a token only a narrower scanner reads: Lark's lexer goes on from here
                if typ in _OPEN:
                    depth += 1
                elif typ in _CLOSE:
                    depth -= 1
            tok = new(_Tok, value)
            tok.type, tok.value, tok.start_pos, tok.end_pos = typ, value, start, stop
            last = tok
            yield tok
            pos = stop
        if pos >= end:
            return
        line_ctr.feed(text[line_ctr.char_pos : pos])
        lexer_state.last_token = last
        for lark_tok in self._fallback(parser_state).lex(lexer_state, parser_state):
            t = lark_tok.type
            if t in _OPEN:
                depth += 1
            elif t in _CLOSE:
                depth -= 1
            elif t == "_NL" and depth > 0:
                continue
            yield lark_tok
