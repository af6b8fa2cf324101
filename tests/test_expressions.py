"""The ${{ }} evaluator against the runner's documented semantics."""

from __future__ import annotations

import pytest

from bench.workflow.expressions import (
    ExpressionError,
    condition_holds,
    evaluate,
    interpolate,
    split_template,
)

CONTEXTS = {
    "runner": {"os": "Linux", "arch": "X64"},
    "env": {"NAME": "bench", "EMPTY": ""},
    "steps": {"cache": {"outputs": {"cache-hit": "true"}, "outcome": "success"}},
    "matrix": {"python-version": "3.11"},
    "github": {"ref": "refs/heads/main"},
}


def functions(status: str = "success"):
    return {
        "success": lambda: status == "success",
        "failure": lambda: status == "failure",
        "always": lambda: True,
        "cancelled": lambda: False,
        "hashfiles": lambda *patterns: "h-" + "+".join(patterns),
    }


def value(text: str, status: str = "success"):
    return evaluate(text, CONTEXTS, functions(status))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'it''s'", "it's"),
        ("42", 42.0),
        ("0xff", 255),
        ("-1.5", -1.5),
        ("true", True),
        ("null", None),
        ("runner.os", "Linux"),
        ("RUNNER.OS", "Linux"),  # contexts and properties are case-insensitive
        ("runner['arch']", "X64"),
        ("steps.cache.outputs.cache-hit", "true"),
        ("steps.missing.outputs.cache-hit", None),  # a property of null is null
        ("matrix.python-version", "3.11"),
        ("env.NAME == 'BENCH'", True),  # string equality ignores case
        ("'1' == 1", True),  # mismatched types compare as numbers
        ("null == 0", True),
        ("true == 1", True),
        ("'abc' == 0", False),  # NaN equals nothing
        ("env.EMPTY || 'fallback'", "fallback"),  # || returns an operand
        ("env.NAME && 'second'", "second"),
        ("!env.EMPTY", True),
        ("2 < 10", True),
        ("'b' > 'A'", True),
        ("(1 == 1) && !(2 == 3)", True),
        ("steps.*.outcome", ["success"]),
        ("contains('Hello', 'ell')", True),
        ("contains(fromJSON('[\"a\", \"b\"]'), 'B')", True),
        ("startsWith(github.ref, 'refs/heads/')", True),
        ("endsWith('file.lock', '.LOCK')", True),
        ("format('{0}-pip-{1}', runner.os, 'x')", "Linux-pip-x"),
        ("format('{{0}} {0}', 'a')", "{0} a"),
        ("join(fromJSON('[1, 2]'), '+')", "1+2"),
        ("hashFiles('**/requirements.txt')", "h-**/requirements.txt"),
    ],
)
def test_values(text, expected):
    assert value(text) == expected


@pytest.mark.parametrize(
    "text",
    ["runner.os ==", "unknown.thing", "nope()", "'unterminated", "runner.os = 'x'", "a ? b : c"],
)
def test_errors_name_the_construct(text):
    with pytest.raises(ExpressionError):
        value(text)


def test_interpolation_keeps_text_and_converts_values():
    text = "${{ runner.os }}-py${{ matrix.python-version }}-${{ 1 == 1 }}-${{ null }}."
    assert interpolate(text, CONTEXTS, functions()) == "Linux-py3.11-true-."


def test_a_closing_brace_inside_a_string_does_not_end_the_expression():
    assert split_template("a ${{ 'x}}y' }} b") == [(False, "a "), (True, "'x}}y'"), (False, " b")]


def test_unclosed_expression_is_an_error():
    with pytest.raises(ExpressionError):
        split_template("${{ runner.os ")


@pytest.mark.parametrize(
    ("condition", "status", "expected"),
    [
        (None, "success", True),
        (None, "failure", False),
        ("steps.cache.outputs.cache-hit != 'true'", "success", False),
        ("${{ steps.cache.outputs.cache-hit == 'true' }}", "success", True),
        ("steps.cache.outputs.cache-hit == 'true'", "failure", False),  # implicit success()
        ("always()", "failure", True),
        ("failure()", "failure", True),
        ("success() || failure()", "failure", True),
        ("false", "success", False),
        (" ${{ false }} text", "success", True),  # text around ${{ }} is a non-empty string
    ],
)
def test_conditions(condition, status, expected):
    assert condition_holds(condition, CONTEXTS, functions(status)) is expected
