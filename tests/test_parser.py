"""The expression language (SPEC section 1): grammar, semantics, the graph the
parser builds, located errors, and fuzzing (anything in -> a Graph or an
AdcliError, never another exception)."""

from __future__ import annotations

import math

import pytest
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from adcli.errors import NAME, PARSE, AdcliError
from adcli.graph import Graph
from adcli.parse import parse


def shape(g: Graph, i: int | None = None):
    """The expression under node ``i`` (default: the single output) as a nested
    tuple: ("add", ("input", "x"), ("const", 2.0)) -- independent of node ids."""
    if i is None:
        assert len(g.outputs) == 1
        i = g.outputs[0]
    # iterative post-order so that deep graphs do not recurse here either
    memo: dict[int, tuple] = {}
    stack = [i]
    while stack:
        j = stack[-1]
        node = g.nodes[j]
        todo = [a for a in node.args if a not in memo]
        if todo:
            stack.extend(todo)
            continue
        stack.pop()
        if node.op.name in ("input", "const"):
            memo[j] = (node.op.name, node.param)
        else:
            extra = (node.param,) if node.op.param else ()
            memo[j] = (node.op.name, *extra, *(memo[a] for a in node.args))
    return memo[i]


X, Y, Z = ("input", "x"), ("input", "y"), ("input", "z")


def C(v):
    return ("const", float(v))


def const_value(text: str) -> float:
    g = parse(text)
    node = g.nodes[g.outputs[0]]
    assert node.op.name == "const", text  # constant subexpressions are folded
    return node.param


# -- precedence and associativity ------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("-x^2", ("neg", ("powc", 2.0, X))),
        ("x + y * z", ("add", X, ("mul", Y, Z))),
        ("x * y + z", ("add", ("mul", X, Y), Z)),
        ("x - y - z", ("sub", ("sub", X, Y), Z)),
        ("x / y / z", ("div", ("div", X, Y), Z)),
        ("x - y + z", ("add", ("sub", X, Y), Z)),
        ("x / y * z", ("mul", ("div", X, Y), Z)),
        ("-x * y", ("mul", ("neg", X), Y)),
        ("x * -y", ("mul", X, ("neg", Y))),
        ("x^y^z", ("pow", X, ("pow", Y, Z))),
        ("x**y**z", ("pow", X, ("pow", Y, Z))),
        ("x^-y", ("pow", X, ("neg", Y))),
        ("-x^-y", ("neg", ("pow", X, ("neg", Y)))),
        ("(x + y) * z", ("mul", ("add", X, Y), Z)),
        ("x^2^3", ("powc", 8.0, X)),
        ("(x^2)^3", ("powc", 3.0, ("powc", 2.0, X))),
        ("+x", X),
        ("--x", ("neg", ("neg", X))),
        ("x^(y + 1)", ("pow", X, ("add", Y, C(1)))),
        ("2*x^2", ("mul", C(2), ("powc", 2.0, X))),
        ("sin(x)^2", ("powc", 2.0, ("sin", X))),
        ("x - -y", ("sub", X, ("neg", Y))),
    ],
)
def test_precedence(text, expected):
    assert shape(parse(text)) == expected


# Python's own parser is the oracle for precedence, associativity and spans: its
# arithmetic ranks like adcli's (unary signs looser than **, tighter than * /;
# ** right-associative, an exponent may be signed: x**-y), with ^ written **.
_PY_OPS = {"Add": "add", "Sub": "sub", "Mult": "mul", "Div": "div", "Pow": "pow"}


_PY_CMP = {"Lt": "<", "LtE": "<=", "Gt": ">", "GtE": ">=", "Eq": "==", "NotEq": "!="}


def _python_shape(text: str):
    """What Python's ast makes of ``text`` (with ^ as **): each output's nested
    tuple, each node's (start, end) span as adcli spans it (a unary + is no node:
    its operand's own), and the operations in the order Python's parser
    completes them, which is the order the text writes them."""
    import ast

    spans: dict[tuple, tuple[int, int]] = {}
    order: list[tuple] = []
    back, at = {}, 0  # Python's offsets -> the text's (each ^ is two characters there)
    for k, ch in enumerate(text + " "):
        back[at] = k
        at += 2 if ch == "^" else 1

    def walk(n):
        if isinstance(n, ast.Name):
            out = ("input", n.id)
        elif isinstance(n, ast.UnaryOp):
            inner = walk(n.operand)
            if isinstance(n.op, ast.UAdd):
                return inner
            out = ("neg", inner)
        elif isinstance(n, ast.Call) and n.func.id == "where":  # type: ignore[attr-defined]
            test, a, b = n.args
            assert isinstance(test, ast.Compare)
            parts = [walk(test.left), walk(test.comparators[0]), walk(a), walk(b)]
            out = ("where", _PY_CMP[type(test.ops[0]).__name__], *parts)
        elif isinstance(n, ast.Call):
            out = (n.func.id, *map(walk, n.args))  # type: ignore[attr-defined]
        else:
            assert isinstance(n, ast.BinOp)
            out = (_PY_OPS[type(n.op).__name__], walk(n.left), walk(n.right))
        spans.setdefault(out, (back[n.col_offset], back[n.end_col_offset]))
        if not isinstance(n, ast.Name):
            order.append(out)
        return out

    body = ast.parse(text.replace("^", "**"), mode="eval").body
    outputs = [walk(e) for e in body.elts] if isinstance(body, ast.Tuple) else [walk(body)]
    return outputs, spans, order


@st.composite
def _chains(draw):
    """One to three outputs, each a flat chain of distinct inputs with random
    infix operators, unary signs (also after ^) and blanks; some operands are
    parenthesised chains, sin(chain) or where(chain CMP chain, chain, chain)."""
    names = iter(f"v{k}" for k in range(1000))

    def operand(depth: int) -> str:
        signs = "".join(draw(st.lists(st.sampled_from(["-", "+", "- "]), max_size=2)))
        kind = draw(st.integers(0, 9)) if depth < 2 else 9
        if kind == 0:
            return signs + "(" + chain(depth + 1) + ")"
        if kind == 1:
            return signs + "sin(" + chain(depth + 1) + ")"
        if kind == 2:
            cmp = draw(st.sampled_from(list(_PY_CMP.values())))
            parts = [chain(depth + 1) for _ in range(4)]
            return signs + f"where({parts[0]} {cmp} {parts[1]}, {parts[2]}, {parts[3]})"
        return signs + next(names)

    def chain(depth: int) -> str:
        parts = [operand(depth)]
        for _ in range(draw(st.integers(0, 4 if depth else 7))):
            op = draw(st.sampled_from(["+", "-", "*", "/", "^", "**"]))
            parts += [draw(st.sampled_from([op, f" {op} "])), operand(depth)]
        return "".join(parts)

    return ", ".join(chain(0) for _ in range(draw(st.integers(1, 3))))


@settings(max_examples=examples(300), deadline=None)
@given(_chains())
def test_operator_chains_fold_as_python_parses_them(text):
    g = parse(text)
    outputs, spans, order = _python_shape(text)
    assert [shape(g, o) for o in g.outputs] == outputs, text
    made = [shape(g, i) for i, node in enumerate(g.nodes) if node.args]
    assert made == order, text  # nodes in the order the text writes them
    for i, node in enumerate(g.nodes):  # every node spans the text of its subexpression
        assert node.span == spans[shape(g, i)], (text, node)


def test_a_chains_first_operand_is_any_atom():
    """The grammar lists the atoms twice (?sum's first operand and ?atom, to save
    a reduction an operand), and the condition atoms (?cond, ?catom): each two
    lists must stay the same."""
    import re

    from adcli.parse import grammar_path

    text = grammar_path().read_text(encoding="utf-8")

    def alternatives(rule: str) -> list[str]:
        body = re.search(rf"^\?{rule}:(.*?)\n\n", text, re.S | re.M)
        assert body is not None, rule
        return [" ".join(a.split()) for a in body.group(1).split("\n    |")]

    for chain, atom, count in (("sum", "atom", 8), ("cond", "catom", 3)):
        atoms = alternatives(atom)
        assert len(atoms) == count and alternatives(chain)[:count] == atoms


@pytest.mark.parametrize(
    "text,value",
    [
        ("2^3^2", 512.0),
        ("2**3**2", 512.0),
        ("2^-1", 0.5),
        ("2**-1", 0.5),
        ("-2^2", -4.0),
        ("(-2)^2", 4.0),
        ("2^-1^2", 0.5),  # the exponent -1^2 is -(1^2)
        ("10 - 4 - 3", 3.0),
        ("64 / 4 / 2", 8.0),
        ("2 + 3 * 4", 14.0),
        ("(2 + 3) * 4", 20.0),
        ("-3 * -3", 9.0),
        ("2 * -3^2", -18.0),
        ("+-+2", -2.0),
    ],
)
def test_constant_arithmetic(text, value):
    assert const_value(text) == value


def test_star_star_is_caret():
    for a, b in [("x**2", "x^2"), ("x**y", "x^y"), ("x ** -y ** 2", "x ^ -y ^ 2")]:
        assert shape(parse(a)) == shape(parse(b))


# -- numbers, names, constants ------------------------------------------------------------


@pytest.mark.parametrize(
    "text,value",
    [
        ("2", 2.0),
        ("0.5", 0.5),
        (".5", 0.5),
        ("1e-3", 1e-3),
        ("6.02E23", 6.02e23),
        ("1.", 1.0),
        ("1.5e+2", 150.0),
        ("007", 7.0),
        ("1e308", 1e308),
        ("2.5E-310", 2.5e-310),
    ],
)
def test_numbers(text, value):
    assert const_value(text) == value
    # and as a factor in a product with an input
    assert shape(parse(f"{text}*x")) == ("mul", C(value), X)


def test_constants_pi_e():
    assert const_value("pi") == math.pi
    assert const_value("e") == math.e
    assert const_value("2*pi") == 2 * math.pi
    assert shape(parse("e^x")) == ("pow", C(math.e), X)
    assert parse("pi*x + e").input_names == ["x"]


@pytest.mark.parametrize("name", ["x", "x1", "x_2", "alpha", "_t", "θ", "αβγ", "x_θ1", "Ω2", "épsilon", "変数"])
def test_names(name):
    g = parse(f"{name}^2 + 1")
    assert g.input_names == [name]
    assert shape(g) == ("add", ("powc", 2.0, ("input", name)), C(1))


@pytest.mark.parametrize(
    "src,pos,hint",
    [("x²", 1, "write x^2"), ("3*y³ + 1", 3, "write y^3"), ("a½ = 1; a½", 1, "letters"), ("²", 0, "letters")],
)
def test_names_are_letters_digits_underscore(src, pos, hint):
    # SPEC 1: a superscript or a vulgar fraction is not part of a name
    e = err(src)
    assert e.kind == PARSE and e.span == (pos, pos + 1) and hint in e.hint


def test_inputs_in_order_of_first_appearance():
    g = parse("z*sin(b) + a - z + b")
    assert g.input_names == ["z", "b", "a"]
    g = parse("t = q + p; t * r")
    assert g.input_names == ["q", "p", "r"]


# -- functions ----------------------------------------------------------------------------


def test_log_with_base():
    assert shape(parse("log(x, 2)")) == ("logb", X, C(2))
    assert shape(parse("log(x)")) == ("log", X)
    assert shape(parse("log(x, y)")) == ("logb", X, Y)
    assert const_value("log(8, 2)") == pytest.approx(3.0, rel=1e-15)


@pytest.mark.parametrize("cmp", ["<", "<=", ">", ">=", "==", "!="])
def test_where_every_comparison(cmp):
    g = parse(f"where(x {cmp} y, sin(x), z)")
    assert shape(g) == ("where", cmp, X, Y, ("sin", X), Z)
    # the comparison binds looser than arithmetic on both sides
    assert shape(parse(f"where(x + 1 {cmp} 2*y, x, y)")) == ("where", cmp, ("add", X, C(1)), ("mul", C(2), Y), X, Y)


def test_where_constant_condition_folds():
    assert const_value("where(1 < 2, 3, 4)") == 3.0
    assert const_value("where(1 == 2, 3, 4)") == 4.0


@st.composite
def _conditions(draw):
    """A where-condition: comparisons of distinct inputs combined by and, or,
    not and parentheses, drawn as a flat chain with a few nested ones."""
    names = iter(f"c{k}" for k in range(200))

    def atom(depth: int) -> str:
        nots = "not " * draw(st.integers(0, 2))
        if depth < 2 and draw(st.integers(0, 4)) == 0:
            return nots + "(" + chain(depth + 1) + ")"
        return f"{nots}{next(names)} {draw(st.sampled_from(['<', '<=', '>', '>=', '==', '!=']))} {next(names)}"

    def chain(depth: int) -> str:
        parts = [atom(depth)]
        for _ in range(draw(st.integers(0, 4 if depth else 6))):
            parts += [draw(st.sampled_from(["and", "or"])), atom(depth)]
        return " ".join(parts)

    return chain(0)


@settings(max_examples=examples(200), deadline=None)
@given(_conditions())
def test_conditions_mean_what_python_means(cond):
    """Python's own and / or / not (and its precedence: not, and, or) is the
    oracle: where(cond, 1, 0) at random points is Python's truth value of cond."""
    import numpy as np

    from adcli.evaluate import evaluate

    g = parse(f"where({cond}, 1, 0)")
    rng = np.random.default_rng(len(cond))
    points = {name: rng.integers(0, 3, 64).astype(float) for name in g.input_names}
    out = evaluate(g, [points[n] for n in g.input_names]).outputs[0]
    for k in range(64):
        truth = eval(cond, {}, {n: v[k] for n, v in points.items()})  # the test draws the text itself
        assert out[k] == (1.0 if truth else 0.0), (cond, k)


def test_pow_function_is_power():
    assert shape(parse("pow(x, 3)")) == ("powc", 3.0, X)
    assert shape(parse("pow(x, y)")) == ("pow", X, Y)


@pytest.mark.parametrize(
    "name",
    [
        "sin",
        "cos",
        "tan",
        "asin",
        "acos",
        "atan",
        "sinh",
        "cosh",
        "tanh",
        "asinh",
        "acosh",
        "atanh",
        "exp",
        "expm1",
        "log",
        "log1p",
        "log2",
        "log10",
        "sqrt",
        "cbrt",
        "abs",
        "sign",
        "relu",
        "sigmoid",
        "softplus",
    ],
)
def test_spec_unary_functions(name):
    assert shape(parse(f"{name}(x)")) == (name, X)


@pytest.mark.parametrize("name", ["atan2", "hypot", "max", "min"])
def test_spec_binary_functions(name):
    assert shape(parse(f"{name}(x, y)")) == (name, X, Y)


# -- several outputs, named steps, separators ----------------------------------------------


def test_several_outputs():
    src = "x*y, x + y, sin(x)"
    g = parse(src)
    assert len(g.outputs) == 3
    assert [shape(g, o) for o in g.outputs] == [("mul", X, Y), ("add", X, Y), ("sin", X)]
    assert [src[s:e] for s, e in g.output_spans] == ["x*y", "x + y", "sin(x)"]


def test_named_steps_name_the_nodes():
    src = "t1 = x1 - x2; t2 = t1^2; t3 = x1 + x2; t4 = cos(t3); t2 + t4"
    g = parse(src)
    by_name = {n.name: n for n in g.nodes}
    for step, op in [("t1", "sub"), ("t2", "powc"), ("t3", "add"), ("t4", "cos")]:
        assert by_name[step].op.name == op
    assert g.input_names == ["x1", "x2"]
    assert shape(g) == shape(parse("(x1-x2)^2 + cos(x1+x2)"))
    # each step's span is its expression in the source
    assert src[slice(*by_name["t4"].span)] == "cos(t3)"
    assert src[slice(*by_name["t1"].span)] == "x1 - x2"


@pytest.mark.parametrize(
    "src",
    [
        "t1 = x1 - x2\nt2 = t1^2\nt2 + x1",
        "t1 = x1 - x2;t2 = t1^2;t2 + x1",
        "\n\nt1 = x1 - x2;\n\nt2 = t1^2\n\nt2 + x1\n\n",
        "t1 = x1 - x2\r\nt2 = t1^2\r\nt2 + x1\r\n",
        "# a program\nt1 = x1 - x2  # the difference\nt2 = t1^2\n# output:\nt2 + x1  # done",
        "t1 = (x1 -\n  x2)\nt2 = t1^2\nt2 + x1",
        "t1 = x1 - \\\n x2\nt2 = t1^2\nt2 + x1",
    ],
)
def test_separators_newlines_comments(src):
    g = parse(src)
    assert shape(g) == ("add", ("powc", 2.0, ("sub", ("input", "x1"), ("input", "x2"))), ("input", "x1"))
    assert {"t1", "t2"} <= {n.name for n in g.nodes}


def test_newlines_inside_parentheses_are_whitespace():
    assert shape(parse("sin(\n  x\n)")) == ("sin", X)
    assert shape(parse("(x\n+\ny) * z")) == ("mul", ("add", X, Y), Z)
    assert shape(parse("max(x,\n    y)")) == ("max", X, Y)
    assert shape(parse("where(x\n>\ny, x, y)")) == ("where", ">", X, Y, X, Y)


def test_newline_outside_parentheses_separates():
    with pytest.raises(AdcliError) as ei:
        parse("x +\ny")
    assert ei.value.kind == PARSE
    assert ei.value.line_col() == (1, 4)  # "unexpected new line" right after the '+'


def test_comment_at_end_and_alone():
    assert shape(parse("x + 1 # plus one")) == ("add", X, C(1))
    with pytest.raises(AdcliError) as ei:
        parse("# nothing but a comment\n")
    assert "empty" in ei.value.message


# -- the graph: hash-consing, order, spans --------------------------------------------------


def test_hash_consing_shared_product():
    src = "sin(x*y) + x*y"
    g = parse(src)
    muls = [i for i, n in enumerate(g.nodes) if n.op.name == "mul"]
    assert len(muls) == 1
    m = muls[0]
    sin = next(i for i, n in enumerate(g.nodes) if n.op.name == "sin")
    add = g.outputs[0]
    assert g.nodes[sin].args == (m,)
    assert g.nodes[add].args == (sin, m)
    assert src[slice(*g.nodes[m].span)] == "x*y"  # span of the first occurrence
    assert g.nodes[m].span == (4, 7)


def test_hash_consing_more():
    g = parse("sin(x) + sin(x)")
    assert sum(n.op.name == "sin" for n in g.nodes) == 1
    add = g.nodes[g.outputs[0]]
    assert add.args[0] == add.args[1]
    # a named step and the same expression written out are one node
    g = parse("t = x*y; t + x*y")
    assert sum(n.op.name == "mul" for n in g.nodes) == 1
    # inputs are interned too
    g = parse("x + x*x - x")
    assert sum(n.op.name == "input" for n in g.nodes) == 1
    # different constants stay different; equal constants are one node
    g = parse("x*2 + y*2 + z*3")
    assert sorted(n.param for n in g.nodes if n.op.name == "const") == [2.0, 3.0]


def test_topological_order_and_spans():
    src = "t = exp(x) * (y - x); log(1 + t^2) / hypot(t, y), where(x < y, t, x)"
    g = parse(src)
    for i, n in enumerate(g.nodes):
        assert all(a < i for a in n.args)  # arguments come first
        s, e = n.span
        assert 0 <= s < e <= len(src)
    texts = {src[slice(*n.span)] for n in g.nodes}
    assert {"exp(x)", "y - x", "1 + t^2", "hypot(t, y)", "where(x < y, t, x)", "x", "y"} <= texts


def test_unused_steps_are_dropped_but_inputs_stay():
    g = parse("a = sin(x); b = cos(y); x")
    assert {n.op.name for n in g.nodes} == {"input"}
    assert g.input_names == ["x", "y"]


# -- errors ---------------------------------------------------------------------------------


def err(src: str) -> AdcliError:
    with pytest.raises(AdcliError) as ei:
        parse(src)
    e = ei.value
    assert e.source == src
    return e


def test_implicit_multiplication():
    e = err("2x")
    assert e.kind == PARSE and e.span == (0, 2) and "write 2*x" in e.hint
    e = err("y + 3 sin(x)")
    assert "write 3*sin" in e.hint and e.span[0] == 4
    e = err("(x+1)(x-1)")
    assert "implicit multiplication" in e.hint and e.span[0] == 4
    e = err("x y")
    assert "write x*y" in e.hint and e.span == (0, 3)


@pytest.mark.parametrize(
    "src,suggest,span",
    [
        ("sinn(x)", "sin", (0, 4)),
        ("sqr(x)", "sqrt", (0, 3)),
        ("exq(x)", "exp", (0, 3)),
        ("x + tanhh(x)", "tanh", (4, 9)),
        ("lg10(x)", "log10", (0, 4)),
        ("atan3(y, x)", "atan2", (0, 5)),
    ],
)
def test_unknown_function_did_you_mean(src, suggest, span):
    e = err(src)
    assert e.kind == NAME
    assert e.span == span
    assert "unknown function" in e.message
    assert "did you mean" in e.hint and suggest in e.hint


def test_unknown_function_without_close_match():
    e = err("frobnicate(x)")
    assert e.kind == NAME and e.span == (0, 10) and "frobnicate" in e.message
    assert e.hint  # still says where to look


@pytest.mark.parametrize(
    "src,want",
    [
        ("sin(x, y)", "1 argument"),
        ("max()", "1 or more arguments"),
        ("atan2(x)", "2 arguments"),
        ("log(x, 2, 3)", "1 or 2"),
        ("where(x > 0, 1)", "3 arguments"),
        ("exp()", "1 argument"),
        ("hypot()", "1 or more arguments"),
        ("polygamma(x)", "2 arguments"),
        ("clip(x, 1)", "3 arguments"),
    ],
)
def test_wrong_arity(src, want):
    e = err(src)
    assert want in e.message
    assert e.span[0] == 0 and e.span[1] == len(src)  # the whole call


def test_where_needs_a_comparison_first():
    e = err("where(x, 1, 2)")
    assert "comparison" in e.message and e.span == (6, 7)
    e = err("sin(x > 0)")
    assert "comparison" in e.message and e.span == (4, 9)
    e = err("x < y")
    assert "where" in e.hint and e.span == (2, 3)


@pytest.mark.parametrize(
    "src,span,what",
    [
        ("pi = 3; pi*x", (0, 2), "constant"),
        ("e = x; e", (0, 1), "constant"),
        ("sin = x; sin", (0, 3), "function"),
        ("t = 1; log = t; log", (7, 10), "function"),
    ],
)
def test_assignment_to_constant_or_function(src, span, what):
    e = err(src)
    assert what in e.message and e.span == span


def test_other_step_errors():
    e = err("a = x; a = y; a")
    assert "twice" in e.message and e.span == (7, 8)
    e = err("t = t + 1; t")
    assert "before" in e.message
    e = err("pi(2)")
    assert "not a function" in e.message and "pi*" in e.hint
    e = err("sin + 1")
    assert "sin(" in e.message and e.span == (0, 3)


@pytest.mark.parametrize("src", ["", "   ", "\n\n", "\t \n ", "# just a comment", " \n# c\n"])
def test_empty_input(src):
    e = err(src)
    assert e.kind == PARSE and "empty" in e.message


def test_number_too_large():
    e = err("1e400")
    assert e.span == (0, 5) and "too large" in e.message
    e = err("x + 2.5e999*x")
    assert e.span == (4, 11)


@pytest.mark.parametrize(
    "src,pos,ch",
    [
        ("x $ 2", 2, "$"),
        ("sin(x) @ 3", 7, "@"),
        ("x{1}", 1, "{"),
        ("2×x", 1, "×"),
        ("x\x00", 1, "\x00"),
        ("√x", 0, "√"),
        ("a = 1\nb = a ! 2\nb", 12, "!"),
    ],
)
def test_unexpected_character(src, pos, ch):
    e = err(src)
    assert e.span == (pos, pos + 1)
    assert repr(ch) in e.message


def test_hints_for_lookalike_characters():
    assert "*" in err("2×x").hint
    assert "( )" in err("x{1}").hint
    assert "-" in err("x − y").hint


def test_missing_close_paren():
    src = "log((x1+x2"
    e = err(src)
    assert e.span == (10, 11)
    assert e.line_col() == (1, 11)
    assert "end of input" in e.message and "')'" in e.message
    e = err("sin(x")
    assert e.span == (5, 6) and "')'" in e.message
    e = err("(x + 1   ")  # trailing blanks: the caret goes right after the last character
    assert e.span == (6, 7)


def test_stray_close_paren_and_operators():
    e = err("sin(x))")
    assert e.span == (6, 7) and "')'" in e.message
    e = err("x +")
    assert e.span == (3, 4) and "expected an expression" in e.message
    e = err("x * / y")
    assert e.span == (4, 5) and "'/'" in e.message
    e = err("x ** ** 2")
    assert e.span == (5, 7) and "'**'" in e.message


def test_error_line_and_column_on_later_lines():
    src = "a = x + 1\nb = a *\nb"
    e = err(src)
    assert e.line_col() == (2, 8)
    src = "a = x + 1\nb = (a *\n  * 2)\nb"
    e = err(src)
    assert e.line_col() == (3, 3)
    assert src[e.span[0]] == "*"


def test_constant_domain_errors_are_located():
    e = err("x + log(0)")
    assert e.kind == "domain" and e.span == (4, 10)
    e = err("x * (1/0)")
    assert e.kind == "domain"
    # an overflowing constant is not a parse error: like exp(x) at x=1000 it is
    # inf with a located warning (the README's overflow rule, tests/test_overflow.py)
    assert parse("exp(1000) + x").nodes[-1].op.name == "add"


# -- fuzzing: anything -> Graph or AdcliError ------------------------------------------------

VALID = [
    "log((x1+x2)^2+sin(x1*x2))",
    "(x1-x2)^2 + cos(x1+x2)",
    "t1 = x1 - x2; t2 = t1^2; t3 = x1 + x2; t4 = cos(t3); t2 + t4",
    "where(x > 0, sqrt(x), 0)",
    "max(x, y) * log(x, 2) - atan2(y, x)^-1",
    "a = θ * 2\nb = (a +\n 1)  # c\na, b",
    "-x^2 + 2**3**2 / .5e1",
]

TOKENS = [
    "x",
    "y",
    "x1",
    "θ",
    "_",
    "sin",
    "log",
    "where",
    "max",
    "pow",
    "pi",
    "e",
    "sqrt",
    "abs",
    "1",
    "0",
    "2.5",
    ".5",
    "1e3",
    "1e400",
    "1e-400",
    "6.02E23",
    "+",
    "-",
    "*",
    "/",
    "^",
    "**",
    "(",
    ")",
    "(",
    ")",
    ",",
    ";",
    "\n",
    "\r\n",
    "=",
    "==",
    "<",
    "<=",
    ">",
    ">=",
    "!=",
    "!",
    " ",
    "  ",
    "#",
    "# c\n",
    "\\\n",
    "\\",
    "$",
    "@",
    "[",
    "]",
    "'",
    "\t",
    "−",
    "×",
    "·",
    "√",
    "²",
    "\x00",
    "\x0c",
    "\u2028",
    "\ufeff",
]


def check_parse_total(src: str) -> None:
    try:
        g = parse(src)
    except AdcliError as e:
        # input: an index that is not a constant or out of range (A[A], A[0])
        assert e.kind in ("parse", "name", "domain", "input"), e.kind
        assert isinstance(e.message, str) and e.message
        if e.span is not None:
            s, t = e.span
            assert 0 <= s <= t <= len(src) + 1, (e.span, len(src))
            line, col = e.line_col()
            assert line >= 1 and col >= 1
        from adcli import render

        text = render.error_text(e)  # rendering the error never fails either
        assert text.startswith("error:")
        assert render.dumps(render.error_json(e))
        return
    assert isinstance(g, Graph)
    assert g.outputs
    for i, n in enumerate(g.nodes):
        assert all(0 <= a < i for a in n.args)
        assert 0 <= n.span[0] <= n.span[1] <= len(src)
    assert all(0 <= o < len(g.nodes) for o in g.outputs)


@settings(max_examples=examples(400), deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=25))
def test_fuzz_token_soup(tokens):
    check_parse_total("".join(tokens))


@settings(max_examples=examples(300), deadline=None)
@given(
    st.sampled_from(VALID),
    st.lists(
        st.tuples(st.sampled_from(["del", "ins", "swap", "dup"]), st.integers(0, 10**6), st.sampled_from(TOKENS)),
        min_size=1,
        max_size=4,
    ),
)
def test_fuzz_mutated_valid_expressions(src, edits):
    for kind, k, tok in edits:
        if not src:
            src = tok
            continue
        i = k % len(src)
        if kind == "del":
            src = src[:i] + src[i + 1 :]
        elif kind == "ins":
            src = src[:i] + tok + src[i:]
        elif kind == "swap" and i + 1 < len(src):
            src = src[:i] + src[i + 1] + src[i] + src[i + 2 :]
        else:
            j = (k // 7) % len(src)
            src = src[:i] + src[min(i, j) : max(i, j)] + src[i:]
    check_parse_total(src)


@settings(max_examples=examples(300), deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=40))
def test_fuzz_random_unicode(src):
    check_parse_total(src)


@settings(max_examples=examples(200), deadline=None)
@given(st.text(alphabet="xy12.e+-*/^()<=>!,;#\n \\", max_size=30))
def test_fuzz_ascii_alphabet(src):
    check_parse_total(src)


def test_valid_examples_parse():
    for src in VALID:
        assert isinstance(parse(src), Graph)


def test_parse_is_reentrant_after_errors():
    # the shared builder must not carry state from a failed parse into the next one
    for bad in ["t = x; t +", "a = 1; a = 2; a", "sinn(x)", "1e400"]:
        with pytest.raises(AdcliError):
            parse(bad)
        g = parse("t * y")
        assert g.input_names == ["t", "y"]
        assert shape(g) == ("mul", ("input", "t"), Y)


def test_program_ending_in_an_assignment_says_so():
    with pytest.raises(AdcliError) as e:
        parse("t1 = x - y; t2 = t1^2")
    assert "ends with an assignment" in e.value.message
    assert "t2 = t1^2; t2^2" in e.value.hint


def test_missing_operator_message_lists_no_unrelated_tokens():
    with pytest.raises(AdcliError) as e:
        parse("2x + 1")
    assert e.value.message == "missing operator between '2' and 'x'"
    assert e.value.span == (0, 2)


@pytest.mark.parametrize("src", ["A[A]", "A[0]"])
def test_index_errors_are_total(src):
    """Found by test_fuzz_random_unicode (it failed the suite now and then): an
    index that uses an input, or is out of range, is a located 'input' error."""
    check_parse_total(src)
