"""Values of AST nodes from :mod:`harness.answers.latex`: exact rationals and guarded numerics.

Two evaluators, neither of which ever evaluates text:

- :func:`exact`: ``fractions.Fraction`` arithmetic for expressions that are rational numbers
  (integers, decimals, fractions, integer powers, factorials, perfect roots). It refuses
  (:class:`TooBig`) any power or factorial whose result would exceed :data:`MAX_BITS` bits, so
  ``9^{9^{9^{9}}}`` is never computed.
- :func:`close`: equality of two expressions by high-precision evaluation with ``mpmath`` at two
  (or three) precisions. Equal values give a difference that shrinks as the precision grows;
  different values give a difference that stays put. Precision grows with the longest digit
  string in the inputs, so a 50-digit decimal approximation of ``\\pi`` is still told apart from
  ``\\pi``. There is no fixed tolerance: ``0.333`` is not ``1/3``, ``3.14`` is not ``\\pi``.

Magnitudes are guarded too: a power whose result would have more than :data:`MAX_NUM_BITS` bits of
exponent raises :class:`TooBig`; the caller turns "cannot decide" into a timeout status.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from fractions import Fraction
from functools import lru_cache

import mpmath

MAX_BITS = 16_384  # largest exact integer we build (numerator/denominator bits)
MAX_NUM_BITS = 1_000_000  # largest binary exponent of a numeric value
MAX_ROOT = 64  # largest root index tried exactly
MAX_TRIG_BITS = 4_096  # largest binary exponent of a trigonometric function's argument


class NotExact(Exception):
    """Not a rational number (pi, square roots of non-squares, free symbols, ...)."""


class TooBig(Exception):
    """The value is too large to compute within bounds."""


class Unevaluable(Exception):
    """Undefined (division by zero, domain error) or not a number (text, tuples, ...)."""


SCALAR_KINDS = frozenset({
    "num", "sym", "const", "add", "neg", "mul", "div", "pow", "sqrt", "fact", "func", "log",
    "binom", "abs", "floor", "ceil", "deg", "pct", "pm", "prime", "sub", "over", "opaque",
})
_EVALUABLE = SCALAR_KINDS - {"pm", "prime", "sub", "over", "opaque"}


def free_symbols(node: tuple) -> frozenset[str]:
    """Names of the free symbols in a scalar node (constants pi, e, i are not symbols)."""
    return _free(node)


@lru_cache(maxsize=32768)
def _free(node: tuple) -> frozenset[str]:
    k = node[0]
    if k == "sym":
        return frozenset((node[1],))
    out: frozenset[str] = frozenset()
    for child in node[1:]:
        if isinstance(child, tuple):
            if child and isinstance(child[0], str):
                out |= _free(child)
            else:
                for c in child:
                    if isinstance(c, tuple):
                        out |= _free(c)
    return out


def evaluable(node: tuple) -> bool:
    """True when every sub-node is something :func:`exact`/:func:`close` can compute."""
    return _evaluable(node)


@lru_cache(maxsize=32768)
def _evaluable(node: tuple) -> bool:
    k = node[0]
    if k not in _EVALUABLE:
        return False
    if k in ("num", "sym", "const"):
        return True
    for child in node[1:]:
        if child is None or isinstance(child, str):
            continue
        if child and isinstance(child[0], str):
            if not _evaluable(child):
                return False
        else:
            if not all(_evaluable(c) for c in child):
                return False
    return True


# ---------------------------------------------------------------------------------------------
# exact


def _bits(q: Fraction) -> int:
    return max(q.numerator.bit_length(), q.denominator.bit_length())


def _check(q: Fraction) -> Fraction:
    if _bits(q) > 4 * MAX_BITS:
        raise TooBig("intermediate value too large")
    return q


def _iroot(x: int, n: int) -> int | None:
    """The exact integer n-th root of x >= 0, or None."""
    if x < 2:
        return x
    if n == 2:
        r = math.isqrt(x)
        return r if r * r == x else None
    r = round(x ** (1.0 / n)) if x.bit_length() < 1000 else None
    if r is None:  # Newton on integers
        r = 1 << (x.bit_length() // n + 1)
        while True:
            y = ((n - 1) * r + x // r ** (n - 1)) // n
            if y >= r:
                break
            r = y
    for c in (r - 1, r, r + 1):
        if c >= 0 and c ** n == x:
            return c
    return None


def _root(x: Fraction, n: int, real_odd: bool) -> Fraction:
    if n <= 0 or n > MAX_ROOT:
        raise NotExact("root index")
    neg = x < 0
    if neg and not (real_odd and n % 2 == 1):
        raise NotExact("root of a negative number")
    a = abs(x)
    p, q = _iroot(a.numerator, n), _iroot(a.denominator, n)
    if p is None or q is None:
        raise NotExact("not a perfect power")
    r = Fraction(p, q)
    return -r if neg else r


def _pow(a: Fraction, b: Fraction) -> Fraction:
    if b.denominator != 1:
        if b.denominator > MAX_ROOT or a < 0:
            raise NotExact("fractional power")
        a = _root(a, b.denominator, False)
        b = Fraction(b.numerator)
    n = b.numerator
    if a == 0:
        if n < 0:
            raise Unevaluable("0 to a negative power")
        return Fraction(1) if n == 0 else Fraction(0)
    if a in (1, -1):
        return a ** n
    if abs(n) * _bits(a) > MAX_BITS:
        raise TooBig("power too large")
    return a ** n


def _fact(a: Fraction) -> Fraction:
    if a.denominator != 1 or a < 0:
        raise NotExact("factorial of a non-integer")
    n = a.numerator
    if n > 2 and n * math.log2(n) > MAX_BITS:
        raise TooBig("factorial too large")
    return Fraction(math.factorial(n))


def exact(node: tuple, env: Mapping[str, Fraction] | None = None) -> Fraction:
    """The exact rational value of ``node`` (symbols taken from ``env``).

    Raises:
        NotExact: the value is not (known to be) rational.
        TooBig: computing it would exceed the size bounds.
        Unevaluable: undefined, or not a number.
    """
    if env is None:
        return _exact_cached(node)
    return _exact(node, env, _exact_env_rec(env))


@lru_cache(maxsize=32768)
def _exact_cached_impl(node: tuple) -> tuple[str, object]:
    try:
        return ("ok", _exact(node, {}, _exact_cached))
    except (NotExact, TooBig, Unevaluable) as exc:
        return (type(exc).__name__, str(exc))


_ERRS = {"NotExact": NotExact, "TooBig": TooBig, "Unevaluable": Unevaluable}


def _exact_cached(node: tuple) -> Fraction:
    tag, val = _exact_cached_impl(node)
    if tag == "ok":
        return val  # type: ignore[return-value]
    raise _ERRS[tag](val)


def _exact_env_rec(env: Mapping[str, Fraction]) -> Callable[[tuple], Fraction]:
    def rec(n: tuple) -> Fraction:
        return _exact(n, env, rec)
    return rec


def _fold(items: tuple, start: Fraction, op: Callable[[Fraction, Fraction], Fraction],
          rec: Callable[[tuple], Fraction]) -> Fraction:
    """Combine the exact values of ``items`` with ``op``; a NotExact item is re-raised only after every
    item was tried, so a TooBig anywhere wins (it means "cannot decide", not "not exact")."""
    acc = start
    pending: Exception | None = None
    for it in items:
        try:
            acc = _check(op(acc, rec(it)))
        except NotExact as exc:
            pending = exc
    if pending is not None:
        raise pending
    return acc


def _exact(node: tuple, env: Mapping[str, Fraction], rec: Callable[[tuple], Fraction]) -> Fraction:
    k = node[0]
    if k == "num":
        return node[1]
    if k == "sym":
        if node[1] in env:
            return env[node[1]]
        raise NotExact("symbol")
    if k == "add":
        # TooBig in one term must win over NotExact in another (so "cannot decide" surfaces)
        return _fold(node[1], Fraction(0), lambda acc, v: acc + v, rec)
    if k == "neg":
        return -rec(node[1])
    if k == "mul":
        return _fold(node[1], Fraction(1), lambda acc, v: acc * v, rec)
    if k == "div":
        a, b = rec(node[1]), rec(node[2])
        if b == 0:
            raise Unevaluable("division by zero")
        return _check(a / b)
    if k == "pow":
        b = rec(node[2])
        return _pow(rec(node[1]), b)
    if k == "sqrt":
        n = 2 if node[2] is None else rec(node[2])
        if isinstance(n, Fraction) and n.denominator != 1:
            raise NotExact("root index")
        return _root(rec(node[1]), int(n), True)
    if k == "fact":
        return _fact(rec(node[1]))
    if k == "binom":
        n, r = rec(node[1]), rec(node[2])
        if n.denominator != 1 or r.denominator != 1 or n < 0:
            raise NotExact("binomial of non-integers")
        if min(r, n - r) * math.log2(max(int(n), 2)) > MAX_BITS:
            raise TooBig("binomial too large")
        return Fraction(math.comb(int(n), int(r))) if 0 <= r <= n else Fraction(0)
    if k == "abs":
        return abs(rec(node[1]))
    if k == "floor":
        return Fraction(math.floor(rec(node[1])))
    if k == "ceil":
        return Fraction(math.ceil(rec(node[1])))
    if k == "deg":
        return rec(node[1])  # degrees outside trig: the unit is dropped
    if k == "pct":
        return rec(node[1]) / 100
    if k in ("const", "func", "log"):
        raise NotExact(k)
    raise Unevaluable(k)


# ---------------------------------------------------------------------------------------------
# numeric

_local = threading.local()


def _ctx(dps: int) -> mpmath.MPContext:
    cache = getattr(_local, "ctx", None)
    if cache is None:
        cache = _local.ctx = {}
    ctx = cache.get(dps)
    if ctx is None:
        ctx = mpmath.MPContext()
        ctx.dps = dps
        cache[dps] = ctx
    return ctx


_TRIG = {"sin", "cos", "tan", "cot", "sec", "csc"}
_PERIODIC = _TRIG


def _magnitude(ctx: mpmath.MPContext, x) -> float:
    """log2 |x| as a float (0 for x == 0)."""
    if x == 0:
        return 0.0
    return float(ctx.log(abs(x), 2))


def numeric(node: tuple, dps: int, env: Mapping[str, Fraction] | None = None,
            check: Callable[[], None] | None = None):
    """The value of ``node`` as an mpmath number at ``dps`` decimal digits.

    Raises:
        TooBig: a power, exponential or factorial beyond :data:`MAX_NUM_BITS`.
        Unevaluable: undefined or not a number.
    """
    ctx = _ctx(dps)
    env = env or {}

    def ev(n: tuple, trig: bool):
        if check is not None:
            check()
        k = n[0]
        if k == "num":
            q = n[1]
            return ctx.mpf(q.numerator) / q.denominator if q.denominator != 1 else ctx.mpf(q.numerator)
        if k == "sym":
            if n[1] not in env:
                raise Unevaluable("free symbol")
            q = env[n[1]]
            return ctx.mpf(q.numerator) / q.denominator
        if k == "const":
            return {"pi": ctx.pi, "e": ctx.e, "i": ctx.mpc(0, 1), "inf": ctx.inf}[n[1]]
        if k == "add":
            total = ctx.mpf(0)
            for t in n[1]:
                total += ev(t, trig)
            return total
        if k == "neg":
            return -ev(n[1], trig)
        if k == "mul":
            prod = ctx.mpf(1)
            for f in n[1]:
                prod *= ev(f, trig)
            return prod
        if k == "div":
            a, b = ev(n[1], trig), ev(n[2], trig)
            if b == 0:
                raise Unevaluable("division by zero")
            return a / b
        if k == "pow":
            a, b = ev(n[1], trig), ev(n[2], trig)
            if a == 0:
                if ctx.re(b) <= 0:
                    raise Unevaluable("0 to a non-positive power")
                return ctx.mpf(0)
            if abs(b) * max(abs(_magnitude(ctx, a)), 1.0) > MAX_NUM_BITS:
                raise TooBig("power too large")
            if ctx.isinf(a) or ctx.isinf(b):
                raise Unevaluable("infinite power")
            return ctx.power(a, b)
        if k == "sqrt":
            x = ev(n[1], trig)
            if n[2] is None:
                return ctx.sqrt(x)
            r = ev(n[2], trig)
            if r == 0:
                raise Unevaluable("zeroth root")
            if ctx.im(x) == 0 and x < 0 and r == int(r) and int(r) % 2 == 1:
                return -ctx.root(-x, int(r))  # real odd root
            return ctx.power(x, 1 / r)
        if k == "fact":
            x = ev(n[1], trig)
            if ctx.im(x) != 0 or x < 0 or x != int(x):
                raise Unevaluable("factorial of a non-integer")
            if x > 2 and float(x) * math.log2(float(x)) > MAX_NUM_BITS:
                raise TooBig("factorial too large")
            return ctx.factorial(x)
        if k == "binom":
            return ctx.binomial(ev(n[1], trig), ev(n[2], trig))
        if k == "abs":
            return abs(ev(n[1], trig))
        if k in ("floor", "ceil"):
            x = ev(n[1], trig)
            return ctx.floor(x) if k == "floor" else ctx.ceil(x)
        if k == "deg":
            x = ev(n[1], trig)
            return x * ctx.pi / 180 if trig else x
        if k == "pct":
            return ev(n[1], trig) / 100
        if k == "func":
            name = n[1]
            x = ev(n[2], name in _TRIG)
            if name == "exp":
                if abs(x) > MAX_NUM_BITS:
                    raise TooBig("exp too large")
                return ctx.exp(x)
            if name in ("ln", "log"):
                if x == 0:
                    raise Unevaluable("log 0")
                return ctx.log(x)
            fn = _FUNCS.get(name)
            if fn is None:
                raise Unevaluable(name)
            if name in _PERIODIC and ctx.im(x) == 0 and x != 0 and _magnitude(ctx, x) > MAX_TRIG_BITS:
                # reducing a huge argument mod pi costs time proportional to its size (tan(10^{10^5}))
                raise TooBig("trigonometric function of a huge argument")
            return fn(ctx, x)
        if k == "log":
            b, x = ev(n[1], trig), ev(n[2], trig)
            if x == 0 or b == 0 or b == 1:
                raise Unevaluable("log domain")
            return ctx.log(x) / ctx.log(b)
        raise Unevaluable(k)

    try:
        return ev(node, False)
    except (ZeroDivisionError, ValueError, OverflowError, TypeError, ArithmeticError) as exc:
        raise Unevaluable(str(exc)) from exc


_FUNCS: dict[str, Callable] = {
    "sin": lambda c, x: c.sin(x), "cos": lambda c, x: c.cos(x), "tan": lambda c, x: c.tan(x),
    "cot": lambda c, x: c.cot(x), "sec": lambda c, x: c.sec(x), "csc": lambda c, x: c.csc(x),
    "arcsin": lambda c, x: c.asin(x), "arccos": lambda c, x: c.acos(x),
    "arctan": lambda c, x: c.atan(x), "arccot": lambda c, x: c.acot(x),
    "arcsec": lambda c, x: c.asec(x), "arccsc": lambda c, x: c.acsc(x),
    "sinh": lambda c, x: c.sinh(x), "cosh": lambda c, x: c.cosh(x),
    "tanh": lambda c, x: c.tanh(x), "coth": lambda c, x: c.coth(x),
    "sqrt": lambda c, x: c.sqrt(x), "sgn": lambda c, x: c.sign(x),
}


def _bad(ctx: mpmath.MPContext, x) -> bool:
    return ctx.isnan(x) if ctx.im(x) == 0 else (ctx.isnan(ctx.re(x)) or ctx.isnan(ctx.im(x)))


def _inf(ctx: mpmath.MPContext, x) -> bool:
    return ctx.isinf(ctx.re(x)) or ctx.isinf(ctx.im(x))


def close(a: tuple, b: tuple, digits: int = 0, env: Mapping[str, Fraction] | None = None,
          check: Callable[[], None] | None = None) -> bool:
    """True when ``a`` and ``b`` have the same value (no fixed tolerance; see the module doc).

    Args:
        a, b: evaluable scalar nodes.
        digits: length of the longest digit string in the inputs (raises the precision).
        env: values of free symbols.
        check: called in loops (a Budget's ``check``).

    Raises:
        TooBig, Unevaluable: as :func:`numeric`.
    """
    dps1 = 40 + 2 * digits
    diffs = []
    for dps in (dps1, 2 * dps1, 3 * dps1):
        ctx = _ctx(dps)
        va, vb = numeric(a, dps, env, check), numeric(b, dps, env, check)
        if _bad(ctx, va) or _bad(ctx, vb):
            raise Unevaluable("nan")
        if _inf(ctx, va) or _inf(ctx, vb):
            return va == vb
        d = abs(va - vb)
        if d == 0 and dps > dps1:
            return True
        scale = max(abs(va), abs(vb))
        if d <= scale * ctx.mpf(10) ** (-(dps - 8)) and dps > dps1:
            return True  # agree to (almost) the full working precision, twice
        diffs.append(d)
        if dps == dps1:
            continue
        prev = diffs[-2]
        if prev == 0:
            continue  # agreed exactly at the lower precision only: look once more
        # equal values: the difference shrinks with precision; different ones stay put
        return d <= prev * ctx.mpf(10) ** (-(dps1 // 2))
    return False
