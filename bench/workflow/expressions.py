"""GitHub Actions ``${{ }}`` expressions: the operators, literals, contexts and functions jobs use.

Semantics follow the runner's evaluator: ``&&``/``||`` return an operand (not a boolean),
``==`` coerces mismatched types to numbers and compares strings case-insensitively, a property
of null is null, and context and property names are case-insensitive. Anything outside this
subset is an ``ExpressionError`` that names the construct.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.errors import BenchError


class ExpressionError(BenchError):
    """An expression the harness cannot parse or does not support."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?(?:0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))
      | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
      | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\].,*])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, name, op, end
    text: str


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ExpressionError(
                f"unexpected character {text[position:].strip()[:1]!r} in {text!r}"
            )
        kind = match.lastgroup or "op"
        tokens.append(Token(kind, match.group(kind)))
        position = match.end()
    tokens.append(Token("end", ""))
    return tokens


# -- the tree: tuples keep it small ------------------------------------------------------------
# ("lit", value) ("ctx", name) ("prop", node, name_node) ("index", node, node) ("star", node)
# ("call", name, [args]) ("not", node) ("and"|"or", a, b) ("cmp", op, a, b)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.at = 0

    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self, text: str | None = None) -> Token:
        token = self.tokens[self.at]
        if text is not None and token.text != text:
            found = token.text or "the end"
            raise ExpressionError(f"expected {text!r} but found {found!r} in {self.text!r}")
        self.at += 1
        return token

    def parse(self) -> tuple:
        node = self.or_expr()
        if self.peek().kind != "end":
            raise ExpressionError(f"unexpected {self.peek().text!r} in {self.text!r}")
        return node

    def or_expr(self) -> tuple:
        node = self.and_expr()
        while self.peek().text == "||":
            self.take()
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self) -> tuple:
        node = self.comparison()
        while self.peek().text == "&&":
            self.take()
            node = ("and", node, self.comparison())
        return node

    def comparison(self) -> tuple:
        node = self.unary()
        while self.peek().text in ("==", "!=", "<", "<=", ">", ">="):
            op = self.take().text
            node = ("cmp", op, node, self.unary())
        return node

    def unary(self) -> tuple:
        if self.peek().text == "!":
            self.take()
            return ("not", self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: tuple) -> tuple:
        while True:
            if self.peek().text == ".":
                self.take()
                token = self.take()
                if token.text == "*":
                    node = ("star", node)
                elif token.kind == "name":
                    node = ("prop", node, ("lit", token.text))
                else:
                    raise ExpressionError(f"expected a property name after '.' in {self.text!r}")
            elif self.peek().text == "[":
                self.take()
                if self.peek().text == "*":
                    self.take()
                    node = ("star", node)
                else:
                    node = ("index", node, self.or_expr())
                self.take("]")
            else:
                return node

    def primary(self) -> tuple:
        token = self.take()
        if token.kind == "string":
            return ("lit", token.text[1:-1].replace("''", "'"))
        if token.kind == "number":
            text = token.text
            value = int(text, 16) if text.lower().lstrip("-").startswith("0x") else float(text)
            return ("lit", value)
        if token.text == "(":
            node = self.or_expr()
            self.take(")")
            return node
        if token.kind == "name":
            word = token.text.lower()
            if word in ("true", "false"):
                return ("lit", word == "true")
            if word == "null":
                return ("lit", None)
            if self.peek().text == "(":
                self.take()
                args: list[tuple] = []
                if self.peek().text != ")":
                    args.append(self.or_expr())
                    while self.peek().text == ",":
                        self.take()
                        args.append(self.or_expr())
                self.take(")")
                return ("call", token.text, args)
            return ("ctx", token.text)
        found = token.text or "the end"
        raise ExpressionError(f"unexpected {found!r} in {self.text!r}")


@functools.lru_cache(maxsize=1024)
def parse(text: str) -> tuple:
    """The tree of an expression; cached, since a job evaluates the same texts again and again."""
    return _Parser(text).parse()


# -- values ------------------------------------------------------------------------------------


def truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return not (value == 0 or math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return math.nan
    return math.nan


def to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return a is b
    if type(a) is type(b) or (_is_number(a) and _is_number(b)):
        if isinstance(a, str):
            return a.casefold() == b.casefold()
        return a == b
    return to_number(a) == to_number(b)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "==":
        return _equal(a, b)
    if op == "!=":
        return not _equal(a, b)
    if isinstance(a, str) and isinstance(b, str):
        x, y = a.casefold(), b.casefold()
    else:
        x, y = to_number(a), to_number(b)
        if math.isnan(x) or math.isnan(y):
            return False
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def _property(value: Any, name: Any) -> Any:
    if isinstance(value, Mapping):
        key = to_string(name)
        if key in value:
            return value[key]
        folded = key.casefold()
        for candidate, item in value.items():
            if candidate.casefold() == folded:
                return item
        return None
    if isinstance(value, list) and _is_number(name):
        index = int(name)
        return value[index] if 0 <= index < len(value) else None
    return None


# -- functions ---------------------------------------------------------------------------------

Function = Callable[..., Any]


def _format(template: str, *args: Any) -> str:
    out: list[str] = []
    i = 0
    while i < len(template):
        char = template[i]
        if template.startswith("{{", i) or template.startswith("}}", i):
            out.append(char)
            i += 2
        elif char == "{":
            end = template.find("}", i)
            index_text = template[i + 1 : end] if end != -1 else ""
            if not index_text.isdigit() or int(index_text) >= len(args):
                raise ExpressionError(f"format(): bad placeholder in {template!r}")
            out.append(to_string(args[int(index_text)]))
            i = end + 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return any(_equal(item, needle) for item in haystack)
    return to_string(needle).casefold() in to_string(haystack).casefold()


def _join(value: Any, separator: Any = ",") -> str:
    if isinstance(value, list):
        return to_string(separator).join(to_string(item) for item in value)
    return to_string(value)


def _from_json(text: Any) -> Any:
    try:
        return json.loads(to_string(text))
    except json.JSONDecodeError as error:
        raise ExpressionError(f"fromJSON(): not JSON: {error.msg}") from None


PURE_FUNCTIONS: dict[str, Function] = {
    "contains": _contains,
    "startswith": lambda a, b: to_string(a).casefold().startswith(to_string(b).casefold()),
    "endswith": lambda a, b: to_string(a).casefold().endswith(to_string(b).casefold()),
    "format": lambda template, *args: _format(to_string(template), *args),
    "join": _join,
    "tojson": lambda value: json.dumps(value, indent=2),
    "fromjson": _from_json,
}

STATUS_FUNCTIONS = ("success", "always", "failure", "cancelled")


def evaluate(
    node: tuple | str, contexts: Mapping[str, Any], functions: Mapping[str, Function]
) -> Any:
    """The value of a parsed (or textual) expression. ``functions`` adds hashFiles and status."""
    if isinstance(node, str):
        node = parse(node)
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "ctx":
        name = node[1].casefold()
        if name not in contexts:
            raise ExpressionError(f"unrecognized named-value: {node[1]!r}")
        return contexts[name]
    if kind == "prop" or kind == "index":
        base = evaluate(node[1], contexts, functions)
        if isinstance(base, _Star):
            return _Star([_property(item, evaluate(node[2], contexts, functions)) for item in base])
        return _property(base, evaluate(node[2], contexts, functions))
    if kind == "star":
        base = evaluate(node[1], contexts, functions)
        items = list(base.values()) if isinstance(base, Mapping) else base
        return _Star(items if isinstance(items, list) else [])
    if kind == "not":
        return not truthy(evaluate(node[1], contexts, functions))
    if kind == "and":
        left = evaluate(node[1], contexts, functions)
        return evaluate(node[2], contexts, functions) if truthy(left) else left
    if kind == "or":
        left = evaluate(node[1], contexts, functions)
        return left if truthy(left) else evaluate(node[2], contexts, functions)
    if kind == "cmp":
        a = evaluate(node[2], contexts, functions)
        b = evaluate(node[3], contexts, functions)
        return _compare(node[1], a, b)
    if kind == "call":
        name = node[1].casefold()
        function = functions.get(name) or PURE_FUNCTIONS.get(name)
        if function is None:
            raise ExpressionError(f"unsupported function {node[1]}()")
        args = [evaluate(arg, contexts, functions) for arg in node[2]]
        try:
            return function(*args)
        except TypeError:
            raise ExpressionError(f"{node[1]}() called with {len(args)} argument(s)") from None
    raise ExpressionError(f"unsupported construct {kind}")  # pragma: no cover


class _Star(list):
    """The result of ``.*`` (an object filter): later properties apply to every item."""


def uses_status_function(text: str) -> bool:
    return any(
        node[0] == "call" and node[1].casefold() in STATUS_FUNCTIONS for node in _walk(parse(text))
    )


def _walk(node: tuple):
    yield node
    for part in node[1:]:
        if isinstance(part, tuple):
            yield from _walk(part)
        elif isinstance(part, list):
            for item in part:
                yield from _walk(item)


def split_template(text: str) -> list[tuple[bool, str]]:
    """A string with ``${{ }}`` parts as (is_expression, text) pieces, literals kept as written."""
    pieces: list[tuple[bool, str]] = []
    position = 0
    while True:
        start = text.find("${{", position)
        if start == -1:
            if position < len(text):
                pieces.append((False, text[position:]))
            return pieces
        if start > position:
            pieces.append((False, text[position:start]))
        end = _closing_braces(text, start + 3)
        if end == -1:
            raise ExpressionError(f"unclosed '${{{{' in {text!r}")
        pieces.append((True, text[start + 3 : end].strip()))
        position = end + 2


def _closing_braces(text: str, position: int) -> int:
    in_string = False
    while position < len(text) - 1:
        char = text[position]
        if char == "'":
            in_string = not in_string
        elif not in_string and text.startswith("}}", position):
            return position
        position += 1
    return -1


def interpolate(text: str, contexts: Mapping[str, Any], functions: Mapping[str, Function]) -> str:
    """``text`` with every ``${{ expression }}`` replaced by its value as a string."""
    pieces = split_template(text)
    return "".join(
        to_string(evaluate(part, contexts, functions)) if is_expression else part
        for is_expression, part in pieces
    )


def condition_holds(
    text: str | bool | None, contexts: Mapping[str, Any], functions: Mapping[str, Function]
) -> bool:
    """An ``if:``: without a status function it means ``success() && (condition)``."""
    if text is None:
        return truthy(functions["success"]())
    if isinstance(text, bool):
        text = "true" if text else "false"
    expression = str(text).strip()
    pieces = split_template(expression)
    if len(pieces) == 1 and pieces[0][0]:
        expression = pieces[0][1]
    elif any(is_expression for is_expression, _ in pieces):
        # A condition mixing text and ${{ }} is a non-empty string: always true, as on GitHub.
        expression = "'" + interpolate(expression, contexts, functions).replace("'", "''") + "'"
    if not uses_status_function(expression):
        expression = f"success() && ({expression})"
    return truthy(evaluate(expression, contexts, functions))
