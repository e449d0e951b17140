"""Safe arithmetic expressions over series values: ``revenue.ic[2026] + revenue.ai[2026]``.

Parsed with :mod:`ast` and evaluated by walking the tree (never ``eval``), so a targets file
from anyone can only add, subtract, multiply and divide series values and numbers.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_OPS: dict[type, Callable] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


@dataclass(frozen=True)
class Term:
    """A reference to one series value: ``metric.industry[year]``."""

    metric: str
    industry: str
    year: int

    @property
    def series(self) -> str:
        """The series id ``metric/industry``."""
        return f"{self.metric}/{self.industry}"


class ExpressionError(ValueError):
    """An expression uses something other than series references, numbers and + - * /."""


@dataclass(frozen=True)
class Expression:
    """A parsed measure expression.

    Examples
    --------
    >>> e = Expression.parse("revenue.ic[2026] + revenue.ai[2026]")
    >>> [t.series for t in e.terms]
    ['revenue/ic', 'revenue/ai']
    >>> e.evaluate(lambda t: {"ic": 2.0, "ai": 3.0}[t.industry])
    5.0
    """

    text: str
    tree: ast.Expression
    terms: tuple[Term, ...]

    @classmethod
    def parse(cls, text: str) -> Expression:
        """Parse and check ``text``; raise :class:`ExpressionError` saying what is wrong."""
        try:
            tree = ast.parse(str(text), mode="eval")
        except SyntaxError as err:
            raise ExpressionError(f"cannot parse measure {text!r}: {err.msg}") from None
        terms: list[Term] = []
        _check(tree.body, text, terms)
        return cls(str(text), tree, tuple(dict.fromkeys(terms)))

    @property
    def years(self) -> tuple[int, ...]:
        """Years referenced, sorted."""
        return tuple(sorted({t.year for t in self.terms}))

    def evaluate(self, lookup: Callable[[Term], np.ndarray | float]) -> np.ndarray | float:
        """Evaluate with ``lookup(term)`` giving each term's value (a number or draws array)."""
        return _eval(self.tree.body, lookup)

    def __str__(self) -> str:
        return self.text


def _term(node: ast.Subscript, text: str) -> Term:
    value, index = node.value, node.slice
    if not (
        isinstance(value, ast.Attribute)
        and isinstance(value.value, ast.Name)
        and isinstance(index, ast.Constant)
        and isinstance(index.value, int)
    ):
        raise ExpressionError(
            f"in measure {text!r}: series references look like metric.industry[year], "
            f"e.g. revenue.ic[2026]"
        )
    return Term(value.value.id, value.attr, int(index.value))


def _check(node: ast.AST, text: str, terms: list[Term]) -> None:
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        _check(node.left, text, terms)
        _check(node.right, text, terms)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        _check(node.operand, text, terms)
    elif isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        pass
    elif isinstance(node, ast.Subscript):
        terms.append(_term(node, text))
    else:
        raise ExpressionError(
            f"in measure {text!r}: only series references (metric.industry[year]), numbers "
            f"and + - * / are allowed, found {ast.unparse(node)!r}"
        )


def _eval(node: ast.AST, lookup: Callable[[Term], np.ndarray | float]):
    if isinstance(node, ast.BinOp):
        return _OPS[type(node.op)](_eval(node.left, lookup), _eval(node.right, lookup))
    if isinstance(node, ast.UnaryOp):
        return -_eval(node.operand, lookup)
    if isinstance(node, ast.Constant):
        return float(node.value)
    return lookup(_term(node, ""))  # type: ignore[arg-type]
