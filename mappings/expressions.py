"""The small condition language of mappings: row filters (`where`), field conditions (`when`)
and cross-field rules.

It is parsed, type-checked and then compiled to SQL (`to_sql`) or evaluated in Python
(`evaluate`) with the same three-valued logic as SQL: a comparison with null is null, `and` /
`or` / `not` follow Kleene's rules. Nothing is ever passed to `eval`.

    expr    := or
    or      := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | cmp
    cmp     := operand [ ('=' | '==' | '!=' | '<>' | '<' | '<=' | '>' | '>=') operand
                       | 'is' ['not'] 'null' | ['not'] 'in' '(' literal (',' literal)* ')' ]
    operand := literal | name | name '(' [expr (',' expr)*] ')' | '(' expr ')'
    literal := 'text' | 123 | 1.5 | true | false | null
    name    := identifier ('.' identifier)*        e.g. properties.email, amount

Functions: lower, upper, trim, length, coalesce, and null-on-failure conversions integer,
decimal, float, boolean, date, datetime (same rules as field types).

Limits: an expression nests at most `MAX_DEPTH` levels (parentheses, `not`, function calls) and
holds at most `MAX_LENGTH` characters; beyond, parsing stops with an `ExpressionError` instead of
a `RecursionError` deep in the parser or type checker.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mappings.sqlconvert import Builder, convert_expression
from mappings.sqlconvert import convert as convert_sql
from mappings.sqlgen import Dialect
from mappings.types import FAILED, NUMERIC, WHITESPACE, DataType, convert


class ExpressionError(ValueError):
    """A syntax or type error in an expression; `position` is the 0-based character offset."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message if position is None else f"{message} (at character {position})")
        self.position = position


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?)
      | (?P<string>'(?:[^']|'')*')
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
      | (?P<op><=|>=|<>|!=|==|=|<|>|\(|\)|,)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "in", "is", "null", "true", "false"}
MAX_DEPTH = 64
MAX_LENGTH = 20_000
COMPARISONS = {
    "=": "=",
    "==": "=",
    "!=": "<>",
    "<>": "<>",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(source):
        if source[position:].strip() == "":
            break
        match = _TOKEN.match(source, position)
        if not match or match.end() == position:
            raise ExpressionError(
                f"unexpected character {source[position:].strip()[0]!r}", position
            )
        kind = match.lastgroup or ""
        text = match.group(kind)
        start = match.start(kind)
        if kind == "name" and text.lower() in KEYWORDS:
            kind, text = "keyword", text.lower()
        tokens.append(Token(kind, text, start))
        position = match.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


# --- syntax tree -----------------------------------------------------------------------------


@dataclass
class Node:
    position: int = field(default=0, kw_only=True)
    category: str = field(default="", kw_only=True)


@dataclass
class Literal(Node):
    value: Any
    kind: str  # string | integer | decimal | boolean | null


@dataclass
class Name(Node):
    path: str


@dataclass
class Call(Node):
    function: str
    args: list[Node]


@dataclass
class Compare(Node):
    op: str
    left: Node
    right: Node


@dataclass
class IsNull(Node):
    operand: Node
    negated: bool


@dataclass
class InList(Node):
    operand: Node
    values: list[Literal]
    negated: bool


@dataclass
class BoolOp(Node):
    op: str  # and | or
    items: list[Node]


@dataclass
class Not(Node):
    operand: Node


class _Parser:
    def __init__(self, source: str) -> None:
        if len(source) > MAX_LENGTH:
            raise ExpressionError(f"the expression is longer than {MAX_LENGTH:,} characters")
        self.tokens = tokenize(source)
        self.index = 0
        self.depth = 0

    def nest(self, position: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"the expression nests deeper than {MAX_DEPTH} levels", position)

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept(self, kind: str, text: str | None = None) -> Token | None:
        token = self.token
        if token.kind == kind and (text is None or token.text == text):
            self.index += 1
            return token
        return None

    def expect(self, kind: str, text: str) -> Token:
        token = self.accept(kind, text)
        if token is None:
            found = self.token.text or "end of expression"
            raise ExpressionError(f"expected {text!r}, found {found!r}", self.token.position)
        return token

    def parse(self) -> Node:
        node = self.or_()
        if self.token.kind != "end":
            raise ExpressionError(f"unexpected {self.token.text!r}", self.token.position)
        return node

    def or_(self) -> Node:
        first = self.token.position
        self.nest(first)
        items = [self.and_()]
        while self.accept("keyword", "or"):
            items.append(self.and_())
        self.depth -= 1
        return items[0] if len(items) == 1 else BoolOp("or", items, position=first)

    def and_(self) -> Node:
        first = self.token.position
        items = [self.not_()]
        while self.accept("keyword", "and"):
            items.append(self.not_())
        return items[0] if len(items) == 1 else BoolOp("and", items, position=first)

    def not_(self) -> Node:
        token = self.accept("keyword", "not")
        if token:
            self.nest(token.position)
            node = Not(self.not_(), position=token.position)
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        token = self.token
        if token.kind == "op" and token.text in COMPARISONS:
            self.take()
            return Compare(COMPARISONS[token.text], left, self.operand(), position=token.position)
        if self.accept("keyword", "is"):
            negated = bool(self.accept("keyword", "not"))
            self.expect("keyword", "null")
            return IsNull(left, negated, position=token.position)
        negated = False
        if token.kind == "keyword" and token.text == "not":
            following = self.tokens[self.index + 1]
            if following.kind == "keyword" and following.text == "in":
                self.take()
                negated = True
        if self.accept("keyword", "in"):
            self.expect("op", "(")
            values = [self.literal()]
            while self.accept("op", ","):
                values.append(self.literal())
            self.expect("op", ")")
            return InList(left, values, negated, position=token.position)
        return left

    def literal(self) -> Literal:
        node = self.operand()
        if not isinstance(node, Literal) or node.kind == "null":
            raise ExpressionError("in (...) takes non-null literals only", node.position)
        return node

    def operand(self) -> Node:
        token = self.take()
        if token.kind == "number":
            if "." in token.text:
                return Literal(Decimal(token.text), "decimal", position=token.position)
            return Literal(int(token.text), "integer", position=token.position)
        if token.kind == "string":
            return Literal(token.text[1:-1].replace("''", "'"), "string", position=token.position)
        if token.kind == "keyword" and token.text in ("true", "false"):
            return Literal(token.text == "true", "boolean", position=token.position)
        if token.kind == "keyword" and token.text == "null":
            return Literal(None, "null", position=token.position)
        if token.kind == "op" and token.text == "(":
            node = self.or_()
            self.expect("op", ")")
            return node
        if token.kind == "name":
            if self.accept("op", "("):
                args: list[Node] = []
                if not self.accept("op", ")"):
                    args.append(self.or_())
                    while self.accept("op", ","):
                        args.append(self.or_())
                    self.expect("op", ")")
                return Call(token.text.lower(), args, position=token.position)
            return Name(token.text, position=token.position)
        found = token.text or "end of expression"
        raise ExpressionError(f"unexpected {found!r}", token.position)


# --- types -----------------------------------------------------------------------------------

CONVERSION_FUNCTIONS = {
    "integer": DataType("integer"),
    "decimal": DataType("decimal", 38, 10),
    "float": DataType("float"),
    "boolean": DataType("boolean"),
    "date": DataType("date"),
    "datetime": DataType("datetime"),
}
STRING_FUNCTIONS = {"lower", "upper", "trim"}
FUNCTIONS = sorted(STRING_FUNCTIONS | {"length", "coalesce"} | set(CONVERSION_FUNCTIONS))
ORDERED = {"string", "integer", "decimal", "float", "date", "datetime"}


@dataclass
class Expression:
    """A parsed, type-checked expression; `names` are the identifiers it reads."""

    source: str
    tree: Node
    names: list[str]

    def to_sql(
        self,
        dialect: Dialect,
        ref: Callable[[str], str],
        builder: Builder | None = None,
        created: list | None = None,
    ) -> str:
        """SQL for the expression. With a `builder` (conditions over source columns, which sit
        in the first layer), conversions become columns of their own, computed once, and are
        appended to `created` (the caller's column must depend on them)."""
        return _SqlCompiler(dialect, ref, builder, created).compile(self.tree)

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        return _evaluate(self.tree, values)


def parse(source: str, types: Mapping[str, str]) -> Expression:
    """Parse and type-check `source`; `types` maps each name the expression may read to its
    category. The result must be boolean."""
    tree = _Parser(source).parse()
    names: list[str] = []
    _check(tree, types, names)
    if tree.category not in ("boolean", "null"):
        raise ExpressionError(f"the expression is {tree.category}, not a condition", 0)
    return Expression(source, tree, names)


def names_in(source: str) -> list[str]:
    """The identifiers of an expression, without type checking (for lineage and validation)."""
    found: list[str] = []

    def walk(node: Node) -> None:
        if isinstance(node, Name):
            found.append(node.path)
        for child in _children(node):
            walk(child)

    walk(_Parser(source).parse())
    return found


def _children(node: Node) -> list[Node]:
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Compare):
        return [node.left, node.right]
    if isinstance(node, IsNull | Not):
        return [node.operand]
    if isinstance(node, InList):
        return [node.operand, *node.values]
    if isinstance(node, BoolOp):
        return node.items
    return []


def _comparable(left: str, right: str) -> bool:
    if "null" in (left, right):
        return True
    if left in NUMERIC and right in NUMERIC:
        return True
    return left == right and left in ORDERED | {"boolean"}


def _coerce_literal(node: Node, category: str) -> None:
    """A text literal compared with a date/datetime is parsed as one, once, at compile time."""
    if isinstance(node, Literal) and node.kind == "string" and category in ("date", "datetime"):
        value = convert(node.value, "string", DataType(category))
        if value is None or value is FAILED:
            raise ExpressionError(f"{node.value!r} is not a valid {category}", node.position)
        node.value, node.kind, node.category = value, category, category


def _check(node: Node, types: Mapping[str, str], names: list[str]) -> None:
    for child in _children(node):
        _check(child, types, names)
    if isinstance(node, Literal):
        node.category = node.kind
    elif isinstance(node, Name):
        if node.path not in types:
            raise ExpressionError(f"unknown name {node.path!r}", node.position)
        node.category = types[node.path]
        names.append(node.path)
    elif isinstance(node, Call):
        _check_call(node)
    elif isinstance(node, Compare):
        _coerce_literal(node.right, node.left.category)
        _coerce_literal(node.left, node.right.category)
        if not _comparable(node.left.category, node.right.category):
            raise ExpressionError(
                f"cannot compare {node.left.category} with {node.right.category}", node.position
            )
        if node.op not in ("=", "<>") and "boolean" in (node.left.category, node.right.category):
            raise ExpressionError("booleans compare with = and != only", node.position)
        node.category = "boolean"
    elif isinstance(node, IsNull):
        node.category = "boolean"
    elif isinstance(node, InList):
        for value in node.values:
            _coerce_literal(value, node.operand.category)
            if not _comparable(node.operand.category, value.category):
                raise ExpressionError(
                    f"cannot compare {node.operand.category} with {value.category}",
                    value.position,
                )
        node.category = "boolean"
    elif isinstance(node, BoolOp | Not):
        for child in _children(node):
            if child.category not in ("boolean", "null"):
                raise ExpressionError(f"{child.category} is not a condition", child.position)
        node.category = "boolean"


def _check_call(node: Call) -> None:
    name, args = node.function, node.args
    if name not in FUNCTIONS:
        raise ExpressionError(
            f"unknown function {name!r} (use one of {', '.join(FUNCTIONS)})", node.position
        )
    if name == "coalesce":
        if len(args) < 2:
            raise ExpressionError("coalesce takes two or more arguments", node.position)
        kinds = {a.category for a in args} - {"null"}
        if len(kinds) > 1:
            raise ExpressionError(f"coalesce mixes {', '.join(sorted(kinds))}", node.position)
        node.category = kinds.pop() if kinds else "null"
        return
    if len(args) != 1:
        raise ExpressionError(f"{name} takes one argument", node.position)
    arg = args[0].category
    if name in STRING_FUNCTIONS:
        if arg not in ("string", "null"):
            raise ExpressionError(f"{name} takes text, not {arg}", node.position)
        node.category = "string"
    elif name == "length":
        if arg not in ("string", "list", "null"):
            raise ExpressionError(f"length takes text or a list, not {arg}", node.position)
        node.category = "integer"
    else:
        target = CONVERSION_FUNCTIONS[name]
        if arg != "null" and (arg not in _SQL_CONVERTIBLE.get(name, set())):
            raise ExpressionError(f"{name}() cannot convert {arg}", node.position)
        node.category = target.name


_SQL_CONVERTIBLE = {
    "integer": {"string", "integer"},
    "decimal": {"string", "integer", "decimal"},
    "float": {"string", "integer", "decimal", "float"},
    "boolean": {"string", "boolean"},
    "date": {"string", "date", "datetime"},
    "datetime": {"string", "date", "datetime"},
}


# --- Python evaluation (three-valued) --------------------------------------------------------


def _evaluate(node: Node, values: Mapping[str, Any]) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Name):
        return values.get(node.path)
    if isinstance(node, Call):
        return _call(node, values)
    if isinstance(node, Compare):
        left, right = _evaluate(node.left, values), _evaluate(node.right, values)
        if left is None or right is None:
            return None
        return _compare(node.op, left, right)
    if isinstance(node, IsNull):
        return (_evaluate(node.operand, values) is None) != node.negated
    if isinstance(node, InList):
        value = _evaluate(node.operand, values)
        if value is None:
            return None
        found = any(value == literal.value for literal in node.values)
        return found != node.negated
    if isinstance(node, Not):
        value = _evaluate(node.operand, values)
        return None if value is None else not value
    if isinstance(node, BoolOp):
        results = [_evaluate(item, values) for item in node.items]
        decisive = node.op == "or"  # True decides an or, False decides an and
        if any(r is decisive for r in results):
            return decisive
        if any(r is None for r in results):
            return None
        return not decisive
    raise TypeError(node)


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "=":
        return left == right
    if op == "<>":
        return left != right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def _call(node: Call, values: Mapping[str, Any]) -> Any:
    args = [_evaluate(a, values) for a in node.args]
    name = node.function
    if name == "coalesce":
        return next((a for a in args if a is not None), None)
    value = args[0]
    if value is None:
        return None
    if name == "lower":
        return value.lower()
    if name == "upper":
        return value.upper()
    if name == "trim":
        return value.strip(WHITESPACE)
    if name == "length":
        return len(value)
    result = convert(value, node.args[0].category, CONVERSION_FUNCTIONS[name])
    return None if result is FAILED else result


# --- SQL -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SourceLevel:
    """SQL over first-layer (source) columns, handed to a conversion builder."""

    ref: str
    layer: int = 0


class _SqlCompiler:
    def __init__(
        self,
        dialect: Dialect,
        ref: Callable[[str], str],
        builder: Builder | None = None,
        created: list | None = None,
    ) -> None:
        self.dialect = dialect
        self.ref = ref
        self.builder = builder
        self.created = created if created is not None else []

    def compile(self, node: Node) -> str:
        d = self.dialect
        if isinstance(node, Literal):
            return "NULL" if node.kind == "null" else d.literal(node.value, node.category)
        if isinstance(node, Name):
            return self.ref(node.path)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Compare):
            left, right = self.compile(node.left), self.compile(node.right)
            if node.left.category == "string" and node.right.category == "string":
                return d.compare_strings(left, node.op, right)
            return f"({left} {node.op} {right})"
        if isinstance(node, IsNull):
            return f"({self.compile(node.operand)} IS {'NOT ' if node.negated else ''}NULL)"
        if isinstance(node, InList):
            items = ", ".join(self.compile(v) for v in node.values)
            return f"({self.compile(node.operand)} {'NOT ' if node.negated else ''}IN ({items}))"
        if isinstance(node, Not):
            return f"(NOT {self.compile(node.operand)})"
        if isinstance(node, BoolOp):
            return "(" + f" {node.op.upper()} ".join(self.compile(i) for i in node.items) + ")"
        raise TypeError(node)

    def call(self, node: Call) -> str:
        d = self.dialect
        args = [self.compile(a) for a in node.args]
        name = node.function
        if name == "coalesce":
            return f"coalesce({', '.join(args)})"
        if name in ("lower", "upper"):
            return f"{name}({args[0]})"
        if name == "trim":
            return d.trim(args[0])
        if name == "length":
            if node.args[0].category == "list":
                return d.list_length(args[0])
            return f"length({args[0]})"
        source = node.args[0].category
        if source == "null":
            return d.null(node.category)
        target = CONVERSION_FUNCTIONS[name]
        if self.builder is None:
            return convert_expression(d, args[0], source, target)
        value, _failed = convert_sql(self.builder, _SourceLevel(args[0]), source, target)
        self.created.append(value)
        return value.ref
