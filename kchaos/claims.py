"""Claims: the sentences of an answer, each with the condition the run checks.

An answer is a list of claims. A claim is a sentence (``say``) with placeholders for
measured values, and a condition (``holds``) over one variant or across variants. An
expectation is a claim without a sentence: the same grammar, the same evaluator.

The grammar (``docs/claims.md``)::

    condition  := expr OP expr                 OP: == != <= >= < >
    expr       := term (' + ' | ' - ' | ' * ' | ' / ' term)*   (operators stand between spaces)
    term       := NUMBER | REF | '(' expr ')'
    REF        := NAME ['@' VARIANT]            a measurement or anomaly kind of a variant
                | SCOPE ':' KEY ['@' VARIANT]   a setting the experiment file states
    SCOPE      := broker | topic | producer | consumer | group

``lost@acks1`` is the ``lost`` count of the variant whose id is ``acks1``; a reference
without ``@`` belongs to the claim's own variant (a variant's ``expect``, or a claim's
``variant:``). Variant ids hold no dots and measurement names hold no ``@``, so a
reference parses one way only. A setting is a value the file writes (a timeout, an
interval): an absolute time is only claimed against one, or against another variant.

Pure: parsing and evaluation; what a name means is the checker's, what a variant is the
experiment's.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

SCOPES = ("broker", "topic", "producer", "consumer", "group")
VARIANT_ID = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
_NAME = r"[a-z][a-z0-9_\-.<>]*"
_REF = re.compile(
    rf"^(?:(?P<scope>{'|'.join(SCOPES)}):(?P<key>[a-zA-Z0-9_.\-]+)|(?P<name>{_NAME}))(?:@(?P<variant>[a-z][a-z0-9-]*))?$"
)
_NUMBER = re.compile(r"^-?(?:\d+\.?\d*|\.\d+)(?:e-?\d+)?$")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


class ClaimError(ValueError):
    """A condition or a sentence that does not parse: the message says what to write."""


@dataclass(frozen=True)
class Ref:
    """One named value: a measurement (``name``) or a setting (``scope``:``key``), of a
    variant (``variant``; None: the claim's own)."""

    name: str
    variant: str | None = None
    scope: str | None = None  # broker/topic/producer/consumer/group for a setting

    @property
    def is_setting(self) -> bool:
        return self.scope is not None

    def text(self) -> str:
        base = f"{self.scope}:{self.name}" if self.scope else self.name
        return base + (f"@{self.variant}" if self.variant else "")

    def bound(self, variant: str | None) -> Ref:
        """This reference with the claim's own variant filled in."""
        return self if self.variant or variant is None else Ref(self.name, variant, self.scope)


Expr = float | Ref | tuple[str, "Expr", "Expr"]


@dataclass(frozen=True)
class Condition:
    text: str
    left: Expr
    op: str
    right: Expr

    def refs(self) -> list[Ref]:
        return [*_refs(self.left), *_refs(self.right)]


def parse_ref(token: str) -> Ref:
    m = _REF.match(token)
    if not m:
        raise ClaimError(f"{token!r} is not a name: write NAME, NAME@VARIANT or broker:KEY (see docs/claims.md)")
    if m.group("scope"):
        return Ref(m.group("key"), m.group("variant"), m.group("scope"))
    return Ref(m.group("name"), m.group("variant"))


def parse(text: str) -> Condition:
    """``"lost@acks1 > 2 * lost@acks0"`` -> a Condition; ``ClaimError`` says what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ClaimError("a condition is a text such as 'lost == 0'")
    tokens = text.replace("(", " ( ").replace(")", " ) ").split()
    ops = [i for i, tok in enumerate(tokens) if tok in COMPARE]
    if len(ops) != 1:
        raise ClaimError(f"{text!r}: write one comparison, e.g. 'lost == 0' or 'revoked@coop < revoked@eager'")
    i = ops[0]
    return Condition(text.strip(), _expr(tokens[:i], text), tokens[i], _expr(tokens[i + 1 :], text))


def _expr(tokens: list[str], text: str) -> Expr:
    """Shunting-yard over space-separated tokens (names may hold '-', so '-' between
    names must stand between spaces)."""
    out: list[Expr] = []
    stack: list[str] = []

    def reduce() -> None:
        op = stack.pop()
        if len(out) < 2:
            raise ClaimError(f"{text!r}: {op!r} needs a value on each side")
        b, a = out.pop(), out.pop()
        out.append((op, a, b))

    expect_value = True
    for tok in tokens:
        if tok == "(" and expect_value:
            stack.append(tok)
        elif tok == ")" and not expect_value:
            while stack and stack[-1] != "(":
                reduce()
            if not stack:
                raise ClaimError(f"{text!r}: a ')' without its '('")
            stack.pop()
        elif tok in _ARITH and not expect_value:
            while stack and stack[-1] != "(" and _PRECEDENCE[stack[-1]] >= _PRECEDENCE[tok]:
                reduce()
            stack.append(tok)
            expect_value = True
        elif expect_value and _NUMBER.match(tok):
            value = float(tok)
            if not math.isfinite(value):
                raise ClaimError(f"{text!r}: {tok!r} is not a finite number")
            out.append(value)
            expect_value = False
        elif expect_value:
            out.append(parse_ref(tok))
            expect_value = False
        else:
            raise ClaimError(f"{text!r}: {tok!r} where an operator (+ - * /) or a comparison belongs")
    if expect_value:
        raise ClaimError(f"{text!r}: a value is missing")
    while stack:
        if stack[-1] == "(":
            raise ClaimError(f"{text!r}: a '(' without its ')'")
        reduce()
    return out[0]


def _refs(e: Expr) -> Iterator[Ref]:
    if isinstance(e, Ref):
        yield e
    elif isinstance(e, tuple):
        yield from _refs(e[1])
        yield from _refs(e[2])


def placeholders(say: str) -> list[Ref]:
    """The references a sentence quotes: ``{lost@acks1}``."""
    return [parse_ref(p.strip()) for p in _PLACEHOLDER.findall(say)]


Values = Callable[[Ref], Any]


def constant(e: Expr) -> float | None:
    """The value of an expression without names, else None."""
    return value(e, lambda _ref: None)


def value(e: Expr, values: Values) -> float | None:
    """An expression's value; None when a name it uses was not measured."""
    if isinstance(e, float | int):
        return float(e)
    if isinstance(e, Ref):
        v = values(e)
        if isinstance(v, bool):
            return float(v)
        return float(v) if isinstance(v, int | float) and math.isfinite(v) else None
    a, b = value(e[1], values), value(e[2], values)
    if a is None or b is None:
        return None
    try:
        return _ARITH[e[0]](a, b)
    except ZeroDivisionError:
        return None


def evaluate(cond: Condition, values: Values) -> dict[str, Any]:
    """Judge a condition: ``{"held", "left", "right", "values"}``; a side that could not
    be measured fails the claim (nothing measured is no evidence)."""
    left, right = value(cond.left, values), value(cond.right, values)
    held = left is not None and right is not None and COMPARE[cond.op](left, right)
    quoted = {r.text(): values(r) for r in dict.fromkeys(cond.refs())}
    return {"held": bool(held), "left": left, "right": right, "values": quoted}


def fmt(v: Any) -> str:
    """A measured value as a sentence quotes it."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        if v != v or v in (math.inf, -math.inf):
            return str(v)
        if v == int(v) and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:,.2f}".rstrip("0").rstrip(".") if abs(v) >= 0.1 else f"{v:.3g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def render(say: str, values: Values, variant: str | None = None) -> str:
    """The sentence with each ``{REF}`` replaced by its measured value."""

    def one(m: re.Match[str]) -> str:
        return fmt(values(parse_ref(m.group(1).strip()).bound(variant)))

    return _PLACEHOLDER.sub(one, say)
