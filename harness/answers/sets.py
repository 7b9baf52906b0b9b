"""Solution sets of one-variable relations and of intervals, for comparing ``x \\ge 5`` with
``5 \\le x`` or ``[5, \\infty)``, ``-x > -1`` with ``x < 1``, ``0 < f(x) < 1`` with ``(0, 1)`` and
``1 \\le |z| \\le \\frac32`` with ``[-\\frac32, -1] \\cup [1, \\frac32]``.

A set is a list of intervals ``(lo, lo_closed, hi, hi_closed)`` whose endpoints are AST nodes
(``("const", "inf")`` and its negation for the rays). Two sets are equal when, sorted by their lower
ends, every pair of intervals has equal endpoints (decided by the caller's exact comparison) and the
same closedness at every finite end. Intervals are not merged: ``(-\\infty, 0) \\cup [0, \\infty)`` is
not recognised as the real line.

A tuple ``(a, b)`` with finite ends is a point as often as an interval, so it is read as an interval
only where the other side says "range": the gold is a relation or a union (``-793 < a < 10`` against
``(-793, 10)``), or it sits inside a union itself.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from harness.answers import values as V
from harness.answers.types import Charge

INF = ("const", "inf")
NEG_INF = ("neg", INF)
_LESS = {"<": False, "\\le": True}  # op -> closed
_FLIP = {">": "<", "\\ge": "\\le"}

Interval = tuple[tuple, bool, tuple, bool]


def _is_inf(node: tuple) -> bool:
    return node in (INF, NEG_INF) or (node[0] == "neg" and node[1] == NEG_INF)


def _var_like(node: tuple) -> bool:
    """``x``, ``f(x)`` (a symbol times a symbol), ``a_1``: the unknown of a one-variable relation."""
    if node[0] == "sym":
        return True
    return node[0] == "mul" and len(node[1]) == 2 and all(f[0] == "sym" for f in node[1])


def interval_of(node: tuple, open_pair: bool) -> list[Interval] | None:
    """An interval, a union of intervals, or a finite set of points as intervals; else None.

    Args:
        node: an AST node.
        open_pair: read ``(a, b)`` with finite ends as an interval (see the module docstring).
    """
    k = node[0]
    if k == "seq" and len(node[3]) == 2 and node[1] in ("(", "[") and node[2] in (")", "]"):
        lo, hi = node[3]
        if node[1] == "(" and node[2] == ")" and not open_pair and not (_is_inf(lo) or _is_inf(hi)):
            return None
        if lo[0] not in V.SCALAR_KINDS or hi[0] not in V.SCALAR_KINDS:
            return None
        return [(lo, node[1] == "[", hi, node[2] == "]")]
    if k == "set" and node[1] and all(x[0] in V.SCALAR_KINDS for x in node[1]):
        return [(x, True, x, True) for x in node[1]]
    if k == "union":
        out: list[Interval] = []
        for part in node[1]:
            ivs = interval_of(part, True)
            if ivs is None:
                return None
            out.extend(ivs)
        return out
    return None


def relation_set(node: tuple, check: Charge | None = None) -> tuple[tuple | None, list[Interval]] | None:
    """(the unknown, its solution set) of a one-variable relation, or None.

    Handles ``x op a``, ``a op x``, ``a op x op b``, ``|x|`` in place of ``x``, ``x \\ne a``,
    ``x \\in S`` and linear inequalities with rational coefficients in one unknown (``-x > -1``).

    Args:
        node: an AST node.
        check: the budget's charge callback for the exact arithmetic (``Budget.check``).

    Raises:
        values.TooBig: a bound or coefficient too large to compute exactly ("cannot decide").
    """
    if node[0] != "rel":
        return None
    ops, parts = node[1], node[2]
    if ops == ("\\in",) and _var_like(parts[0]):
        ivs = interval_of(parts[1], True)
        return (parts[0], ivs) if ivs is not None else None
    if ops == ("\\ne",) and _var_like(parts[0]) and not V.free_symbols(parts[1]):
        a = parts[1]
        return parts[0], [(NEG_INF, False, a, False), (a, False, INF, False)]
    if not ops or not all(o in _LESS or o in _FLIP for o in ops):
        return None
    if all(o in _FLIP for o in ops):
        ops, parts = tuple(_FLIP[o] for o in reversed(ops)), tuple(reversed(parts))
    if not all(o in _LESS for o in ops):
        return None
    if len(parts) == 3 and not V.free_symbols(parts[0]) and not V.free_symbols(parts[2]):
        return _around(parts[1], parts[0], _LESS[ops[0]], parts[2], _LESS[ops[1]], check)
    if len(parts) != 2:
        return None
    lhs, rhs = parts
    closed = _LESS[ops[0]]
    if not V.free_symbols(rhs):
        found = _around(lhs, NEG_INF, False, rhs, closed, check)
        if found is not None:
            return found
    if not V.free_symbols(lhs):
        found = _around(rhs, lhs, closed, INF, False, check)
        if found is not None:
            return found
    return _linear(lhs, rhs, closed, check)


def _around(x: tuple, lo: tuple, lo_closed: bool, hi: tuple, hi_closed: bool, check: Charge | None):
    """``lo < x < hi`` for a plain unknown, or for ``|x|`` (two intervals, or one when ``lo < 0``)."""
    if _var_like(x):
        return x, [(lo, lo_closed, hi, hi_closed)]
    if x[0] == "abs" and _var_like(x[1]):
        if lo == NEG_INF:
            return x[1], [(("neg", hi), hi_closed, hi, hi_closed)]
        try:
            low = V.exact(lo, None, check)
        except (V.NotExact, V.Unevaluable):
            return None
        if low <= 0:
            return x[1], [(("neg", hi), hi_closed, hi, hi_closed)]
        return x[1], [(("neg", hi), hi_closed, ("neg", lo), lo_closed), (lo, lo_closed, hi, hi_closed)]
    return None


def _linear(lhs: tuple, rhs: tuple, closed: bool, check: Charge | None):
    """``lhs < rhs`` (or ``<=``) with ``lhs - rhs = m x + c``, m and c rational, m != 0."""
    f = ("add", (lhs, ("neg", rhs)))
    syms = V.free_symbols(f)
    if len(syms) != 1 or not V.evaluable(f):
        return None
    (name,) = syms
    try:
        c = V.exact(f, {name: Fraction(0)}, check)
        m = V.exact(f, {name: Fraction(1)}, check) - c
        if m == 0 or any(V.exact(f, {name: Fraction(t)}, check) != c + t * m for t in (2, -3, 7)):
            return None
    except (V.NotExact, V.Unevaluable):
        return None
    root = ("num", -c / m)
    var = ("sym", name)
    if m > 0:
        return var, [(NEG_INF, False, root, closed)]
    return var, [(root, closed, INF, False)]


def _key(iv: Interval, value: Callable[[tuple], float]) -> tuple[float, float]:
    return value(iv[0]), value(iv[2])


def same_set(a: list[Interval], b: list[Interval], eq: Callable[[tuple, tuple], bool],
             value: Callable[[tuple], float]) -> bool:
    """Equal unions of intervals: same count, and after sorting by (lower, upper) end, equal ends
    (``eq``) with equal closedness at every finite end.

    Args:
        a, b: the two sets.
        eq: exact equality of two endpoint nodes.
        value: a float for sorting (``-inf``/``inf`` for the rays).
    """
    if len(a) != len(b):
        return False
    a = sorted(a, key=lambda iv: _key(iv, value))
    b = sorted(b, key=lambda iv: _key(iv, value))
    for (alo, alc, ahi, ahc), (blo, blc, bhi, bhc) in zip(a, b):
        for x, xc, y, yc in ((alo, alc, blo, blc), (ahi, ahc, bhi, bhc)):
            if _is_inf(x) or _is_inf(y):
                if value(x) != value(y):
                    return False
            elif xc != yc or not eq(x, y):
                return False
    return True
