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

Work is counted in steps of the caller's :class:`~harness.answers.types.Budget` (``check``): every
node evaluated, plus weighted charges for big-number arithmetic (by bit length, :func:`bit_cost`) and
high-precision functions (by precision, :func:`fn_cost`). The exact evaluator caches its results
together with their cost and charges the cost on every call, so a verdict does not depend on what
an earlier call left in the cache. Operations whose cost grows too fast to charge ahead (mpmath's
gamma function at high precision, factorials and binomials of huge numbers) are refused
(:class:`TooBig`, so ``timeout``) rather than run.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from fractions import Fraction
from functools import lru_cache

import mpmath

from harness.answers.types import DEFAULT_STEPS, Budget, Charge

MAX_BITS = 16_384  # largest exact integer we build (numerator/denominator bits)
MAX_NUM_BITS = 1_000_000  # largest binary exponent of a numeric value
MAX_ROOT = 64  # largest root index tried exactly
MAX_TRIG_BITS = 4_096  # largest binary exponent of a trigonometric function's argument
MAX_SUM_TERMS = 100_000  # terms of a \sum / \prod with numeric bounds (each costs steps, too)
MAX_FACT_EXACT = 10_000  # largest n whose n! the numeric evaluator computes as an integer
MAX_BINOM_TERMS = 1_000  # the smaller index of a numeric binomial, computed as a product
GAMMA_MAX_DPS = 300  # precision up to which mpmath's gamma (large factorials, non-integer binomials) runs
EXACT_CAP = DEFAULT_STEPS  # steps one cached exact evaluation may cost before it gives up (TooBig)


class NotExact(Exception):
    """Not a rational number (pi, square roots of non-squares, free symbols, ...)."""


class TooBig(Exception):
    """The value is too large to compute within bounds."""


class Unevaluable(Exception):
    """Undefined (division by zero, domain error) or not a number (text, tuples, ...)."""


SCALAR_KINDS = frozenset({
    "num", "sym", "const", "add", "neg", "mul", "div", "pow", "sqrt", "fact", "func", "log",
    "binom", "abs", "floor", "ceil", "deg", "pct", "pm", "prime", "sub", "over", "opaque",
    "dfact", "sum", "prod",
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
    if k in ("sum", "prod"):  # ("sum", var, lo, hi, body): the index is bound
        return _free(node[2]) | _free(node[3]) | (_free(node[4]) - {node[1]})
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
# costs (steps of about 10 microseconds each; measured in benchmarks/grading_budget.py)


def bit_cost(bits: int) -> int:
    """Steps for one ``Fraction`` operation on numbers of ``bits`` bits (its gcd grows as about bits^1.7)."""
    return 1 if bits <= 256 else 1 + int(5 * (bits / 1024) ** 1.7)


def int_cost(bits: int) -> int:
    """Steps for one integer multiplication (or power, factorial) with a result of ``bits`` bits."""
    return 1 if bits <= 4096 else 1 + int(3 * (bits / 4096) ** 1.6)


def _op_cost(a: Fraction, b: Fraction) -> int:
    """Steps for one arithmetic operation on ``a`` and ``b`` (integers skip the gcd)."""
    bits = max(_bits(a), _bits(b))
    return int_cost(bits) if a.denominator == 1 and b.denominator == 1 else bit_cost(bits)


def arith_cost(dps: int) -> int:
    """Steps for one mpmath addition, multiplication or division at ``dps`` decimal digits."""
    return 1 + int((dps / 700) ** 2)


def fn_cost(dps: int) -> int:
    """Steps for one elementary function (sin, exp, ...) at ``dps`` decimal digits (about dps^2)."""
    return 1 + int((dps / 120) ** 2)


def _no_budget() -> Charge:
    """The charge callback for a call made without a budget: a fresh default one (still bounded)."""
    return Budget().check


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
    if x.bit_length() < 1000:
        r = round(x ** (1.0 / n))
    else:  # Newton on integers
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


def _root(x: Fraction, n: int, real_odd: bool, charge: Charge) -> Fraction:
    if n <= 0 or n > MAX_ROOT:
        raise NotExact("root index")
    neg = x < 0
    if neg and not (real_odd and n % 2 == 1):
        raise NotExact("root of a negative number")
    a = abs(x)
    if _bits(a) >= 1000:
        charge(20 * int_cost(_bits(a)))  # Newton: some 20 full-size divisions and powers
    p, q = _iroot(a.numerator, n), _iroot(a.denominator, n)
    if p is None or q is None:
        raise NotExact("not a perfect power")
    r = Fraction(p, q)
    return -r if neg else r


def _pow(a: Fraction, b: Fraction, charge: Charge) -> Fraction:
    if b.denominator != 1:
        if b.denominator > MAX_ROOT or a < 0:
            raise NotExact("fractional power")
        a = _root(a, b.denominator, False, charge)
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
    charge(2 * int_cost(abs(n) * _bits(a)))
    return a ** n


def _fact(a: Fraction, charge: Charge) -> Fraction:
    if a.denominator != 1 or a < 0:
        raise NotExact("factorial of a non-integer")
    n = a.numerator
    if n > 2 and n * math.log2(n) > MAX_BITS:
        raise TooBig("factorial too large")
    charge(int_cost(int(n * math.log2(max(n, 2)))))
    return Fraction(math.factorial(n))


def _dfact(a: Fraction, charge: Charge) -> Fraction:
    """``n!! = n (n-2) (n-4) ...`` (1 for n = 0 and n = -1)."""
    if a.denominator != 1 or a < -1:
        raise NotExact("double factorial of a non-integer")
    n = a.numerator
    if n > 2 and n / 2 * math.log2(n) > MAX_BITS:
        raise TooBig("double factorial too large")
    charge(int_cost(int(n / 2 * math.log2(max(n, 2)))))
    return Fraction(_dfact_int(n))


def _dfact_int(n: int) -> int:
    """``n!! = n (n-2) (n-4) ...`` for a whole ``n >= -1`` (1 for 0 and -1), by binary splitting."""
    return _product(range(n, 0, -2))


def _product(r: range) -> int:
    if len(r) <= 32:
        return math.prod(r)
    m = len(r) // 2
    return _product(r[:m]) * _product(r[m:])


def _bound(q: Fraction) -> int:
    """An index bound of a sum or product: an integer (else not a number we can sum over)."""
    if q.denominator != 1:
        raise NotExact("non-integer bound")
    return q.numerator


def _terms(lo: Fraction, hi: Fraction) -> range:
    a, b = _bound(lo), _bound(hi)
    if b - a + 1 > MAX_SUM_TERMS:
        raise TooBig("too many terms")
    return range(a, b + 1)


MAX_POLY_DEGREE = 20  # a sum whose summand is a polynomial of at most this degree is summed in closed form


def _poly_degree(node: tuple, var: str) -> int | None:
    """The degree of ``node`` as a polynomial in ``var`` with constant coefficients (numbers and other
    symbols), or None when it is not one (or its degree is over :data:`MAX_POLY_DEGREE`)."""
    k = node[0]
    if k == "num":
        return 0
    if k == "sym":
        return 1 if node[1] == var else 0
    if k == "neg":
        return _poly_degree(node[1], var)
    if k in ("add", "mul"):
        found = [_poly_degree(x, var) for x in node[1]]
        degs = [x for x in found if x is not None]
        if len(degs) < len(found):
            return None
        d = max(degs) if k == "add" else sum(degs)
        return d if d <= MAX_POLY_DEGREE else None
    if k == "div":
        a, b = _poly_degree(node[1], var), _poly_degree(node[2], var)
        return a if a is not None and b == 0 else None
    if k == "pow" and node[2][0] == "num" and node[2][1].denominator == 1 and 0 <= node[2][1] <= MAX_POLY_DEGREE:
        base = _poly_degree(node[1], var)
        deg = None if base is None else base * int(node[2][1])
        return deg if deg is not None and deg <= MAX_POLY_DEGREE else None
    return None if var in _free(node) else 0  # a constant (pi, sqrt 2, ...): not exact, but of degree 0


def _poly_sum(body: tuple, var: str, deg: int, lo: int, hi: int, env: Mapping[str, Fraction],
              charge: Charge) -> Fraction:
    """``sum_{var=lo}^{hi} body`` for a polynomial summand of degree ``deg``: the partial sums
    ``S(m)`` (first ``m`` terms) form a polynomial of degree ``deg + 1`` in ``m``; it is evaluated at
    ``m = hi - lo + 1`` by Lagrange interpolation through ``S(1) .. S(deg + 2)``, exactly."""
    m = hi - lo + 1
    if (deg + 1) * m.bit_length() > MAX_BITS:
        raise TooBig("sum too large")
    points = deg + 2
    sums, total = [], Fraction(0)
    for i in range(points):
        inner = {**env, var: Fraction(lo + i)}
        v = _exact(body, inner, _exact_env_rec(inner, charge), charge)
        charge(_op_cost(total, v))
        total = _check(total + v)
        sums.append(total)
    out = Fraction(0)
    for i in range(points):  # x_i = i + 1
        term = sums[i]
        for j in range(points):
            if j != i:
                charge(_op_cost(term, Fraction(m)))
                term = term * (m - (j + 1)) / (i - j)
        out = _check(out + term)
    return out


def exact(node: tuple, env: Mapping[str, Fraction] | None = None, check: Charge | None = None) -> Fraction:
    """The exact rational value of ``node`` (symbols taken from ``env``).

    Args:
        node: an AST node.
        env: values of free symbols (None: no symbols; such results are cached with their cost).
        check: the budget's charge callback (``Budget.check``); None charges a fresh default budget.

    Raises:
        NotExact: the value is not (known to be) rational.
        TooBig: computing it would exceed the size bounds.
        Unevaluable: undefined, or not a number.
        AnswerTimeout: past the budget (from ``check``).
    """
    charge = check if check is not None else _no_budget()
    if env is None:
        tag, val, cost = _exact_cached_impl(node)
        charge(cost)  # charged on a cache hit too: the steps spent are a function of the input
        if tag == "ok":
            return val  # type: ignore[return-value]
        raise _ERRS[tag](val)
    return _exact(node, env, _exact_env_rec(env, charge), charge)


class _Overwork(TooBig):
    """A cached exact evaluation cost more than :data:`EXACT_CAP` steps."""


class _Tally:
    """The steps of one cached exact evaluation (its own sub-budget, capped at EXACT_CAP)."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, n: int = 1) -> None:
        self.n += n
        if self.n > EXACT_CAP:
            raise _Overwork("exact evaluation too costly")


@lru_cache(maxsize=32768)
def _exact_cached_impl(node: tuple) -> tuple[str, object, int]:
    """(outcome, value or message, steps it cost): cached, so the cost is charged on every hit."""
    tally = _Tally()

    def rec(child: tuple) -> Fraction:
        tag, val, cost = _exact_cached_impl(child)
        tally(cost)
        if tag == "ok":
            return val  # type: ignore[return-value]
        raise _ERRS[tag](val)

    try:
        return ("ok", _exact(node, {}, rec, tally), tally.n)
    except (NotExact, TooBig, Unevaluable) as exc:
        return ("TooBig" if isinstance(exc, TooBig) else type(exc).__name__, str(exc), tally.n)


_ERRS = {"NotExact": NotExact, "TooBig": TooBig, "Unevaluable": Unevaluable}


def _exact_env_rec(env: Mapping[str, Fraction], charge: Charge) -> Callable[[tuple], Fraction]:
    def rec(n: tuple) -> Fraction:
        return _exact(n, env, rec, charge)
    return rec


def _fold(items: tuple, start: Fraction, op: Callable[[Fraction, Fraction], Fraction],
          rec: Callable[[tuple], Fraction], charge: Charge) -> Fraction:
    """Combine the exact values of ``items`` with ``op``; a NotExact item is re-raised only after every
    item was tried, so a TooBig anywhere wins (it means "cannot decide", not "not exact")."""
    acc = start
    pending: Exception | None = None
    for it in items:
        try:
            v = rec(it)
            charge(_op_cost(acc, v))
            acc = _check(op(acc, v))
        except NotExact as exc:
            pending = exc
    if pending is not None:
        raise pending
    return acc


def _exact(node: tuple, env: Mapping[str, Fraction], rec: Callable[[tuple], Fraction],
           charge: Charge) -> Fraction:
    charge(1)
    k = node[0]
    if k == "num":
        return node[1]
    if k == "sym":
        if node[1] in env:
            return env[node[1]]
        raise NotExact("symbol")
    if k == "add":
        # TooBig in one term must win over NotExact in another (so "cannot decide" surfaces)
        return _fold(node[1], Fraction(0), lambda acc, v: acc + v, rec, charge)
    if k == "neg":
        return -rec(node[1])
    if k == "mul":
        return _fold(node[1], Fraction(1), lambda acc, v: acc * v, rec, charge)
    if k == "div":
        a, b = rec(node[1]), rec(node[2])
        if b == 0:
            raise Unevaluable("division by zero")
        charge(_op_cost(a, b))
        return _check(a / b)
    if k == "pow":
        b = rec(node[2])
        return _pow(rec(node[1]), b, charge)
    if k == "sqrt":
        n = 2 if node[2] is None else rec(node[2])
        if isinstance(n, Fraction) and n.denominator != 1:
            raise NotExact("root index")
        return _root(rec(node[1]), int(n), True, charge)
    if k == "fact":
        return _fact(rec(node[1]), charge)
    if k == "dfact":
        return _dfact(rec(node[1]), charge)
    if k == "binom":
        top, r = rec(node[1]), rec(node[2])
        if top.denominator != 1 or r.denominator != 1 or top < 0:
            raise NotExact("binomial of non-integers")
        small: Fraction = min(r, top - r)
        if small * math.log2(max(int(top), 2)) > MAX_BITS:
            raise TooBig("binomial too large")
        charge(int_cost(int(max(float(small), 1.0) * math.log2(max(int(top), 2)))))
        return Fraction(math.comb(int(top), int(r))) if 0 <= r <= top else Fraction(0)
    if k in ("sum", "prod"):
        var, body = node[1], node[4]
        lo, hi = rec(node[2]), rec(node[3])
        if k == "sum":
            deg = _poly_degree(body, var)
            if deg is not None and _bound(hi) - _bound(lo) + 1 > deg + 2:
                return _poly_sum(body, var, deg, _bound(lo), _bound(hi), env, charge)
        total = Fraction(0) if k == "sum" else Fraction(1)
        for i in _terms(lo, hi):
            inner = {**env, var: Fraction(i)}
            v = _exact(body, inner, _exact_env_rec(inner, charge), charge)
            charge(_op_cost(total, v))
            total = _check(total + v if k == "sum" else total * v)
        return total
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
    """About log2 |x| as a float (0 for x == 0): mpmath's exponent bound, no logarithm computed."""
    if x == 0:
        return 0.0
    return float(ctx.mag(x))


#: Relative cost (in :func:`fn_cost` units) of the functions of :data:`_FUNCS`; others count 1.
_FN_WEIGHT = {"ln": 2, "log": 2, "arcsin": 3, "arccos": 3, "arctan": 2, "arccot": 2, "arcsec": 3,
              "arccsc": 3, "tanh": 2, "coth": 2, "sqrt": 1, "sgn": 0}


def numeric(node: tuple, dps: int, env: Mapping[str, Fraction] | None = None,
            check: Charge | None = None):
    """The value of ``node`` as an mpmath number at ``dps`` decimal digits.

    Every node charges ``check`` (one step, more at high precision; see the module doc).

    Raises:
        TooBig: a power, exponential or factorial beyond :data:`MAX_NUM_BITS`, or an operation too
            costly to run at this precision.
        Unevaluable: undefined or not a number.
        AnswerTimeout: past the budget (from ``check``).
    """
    ctx = _ctx(dps)
    charge = check if check is not None else _no_budget()
    arith, fn = arith_cost(dps), fn_cost(dps)
    op = arith - 1  # one operation's cost above a node's own step (0 at low precision)

    def ev(n: tuple, trig: bool, env: Mapping[str, Fraction]):
        charge(1)
        k = n[0]
        if k == "num":
            q = n[1]
            if q.denominator == 1:
                return ctx.mpf(q.numerator)
            charge(_bits(q) // 4096)
            return ctx.mpf(q.numerator) / q.denominator
        if k == "sym":
            if n[1] not in env:
                raise Unevaluable("free symbol")
            q = env[n[1]]
            return ctx.mpf(q.numerator) / q.denominator if q.denominator != 1 else ctx.mpf(q.numerator)
        if k == "const":
            charge(fn)  # pi and e are computed once per precision (cached by mpmath)
            return {"pi": ctx.pi, "e": ctx.e, "i": ctx.mpc(0, 1), "inf": ctx.inf}[n[1]]
        if k == "add":
            total = ctx.mpf(0)
            for t in n[1]:
                total += ev(t, trig, env)
                charge(op)
            return total
        if k == "neg":
            return -ev(n[1], trig, env)
        if k == "mul":
            prod = ctx.mpf(1)
            for f in n[1]:
                prod *= ev(f, trig, env)
                charge(op)
            return prod
        if k == "div":
            a, b = ev(n[1], trig, env), ev(n[2], trig, env)
            if b == 0:
                raise Unevaluable("division by zero")
            charge(2 * arith)
            return a / b
        if k == "pow":
            a, b = ev(n[1], trig, env), ev(n[2], trig, env)
            if a == 0:
                if ctx.re(b) <= 0:
                    raise Unevaluable("0 to a non-positive power")
                return ctx.mpf(0)
            if abs(b) * max(abs(_magnitude(ctx, a)), 1.0) > MAX_NUM_BITS:
                raise TooBig("power too large")
            if ctx.isinf(a) or ctx.isinf(b):
                raise Unevaluable("infinite power")
            if isinstance(_whole(ctx, b), int):
                charge(int(abs(b)).bit_length() * arith)  # repeated squaring
            else:
                charge(4 * fn)  # exp(b log a)
            return ctx.power(a, b)
        if k == "sqrt":
            x = ev(n[1], trig, env)
            if n[2] is None:
                charge(2 * arith)
                return ctx.sqrt(x)
            r = ev(n[2], trig, env)
            if r == 0:
                raise Unevaluable("zeroth root")
            charge(3 * fn)
            ri = _whole(ctx, r)
            if ctx.im(x) == 0 and x < 0 and isinstance(ri, int) and ri % 2 == 1:
                return -ctx.root(-x, ri)  # real odd root
            return ctx.power(x, 1 / r)
        if k in ("fact", "dfact"):
            return _factorial(ctx, ev(n[1], trig, env), k == "dfact", dps, charge)
        if k == "binom":
            return _binomial(ctx, ev(n[1], trig, env), ev(n[2], trig, env), dps, charge)
        if k in ("sum", "prod"):
            var, body = n[1], n[4]
            lo, hi = ev(n[2], trig, env), ev(n[3], trig, env)
            a, b = _whole(ctx, lo), _whole(ctx, hi)
            if a is None or b is None:
                raise Unevaluable("non-integer bounds")
            if not (isinstance(a, int) and isinstance(b, int)) or b - a + 1 > MAX_SUM_TERMS:
                raise TooBig("too many terms")
            total = ctx.mpf(0) if k == "sum" else ctx.mpf(1)
            for i in range(a, b + 1):
                charge(1)
                v = ev(body, trig, {**env, var: Fraction(i)})
                total = total + v if k == "sum" else total * v
            return total
        if k == "abs":
            return abs(ev(n[1], trig, env))
        if k in ("floor", "ceil"):
            x = ev(n[1], trig, env)
            return ctx.floor(x) if k == "floor" else ctx.ceil(x)
        if k == "deg":
            x = ev(n[1], trig, env)
            return x * ctx.pi / 180 if trig else x
        if k == "pct":
            return ev(n[1], trig, env) / 100
        if k == "func":
            name = n[1]
            x = ev(n[2], name in _TRIG, env)
            if name == "exp":
                if abs(x) > MAX_NUM_BITS:
                    raise TooBig("exp too large")
                charge(fn)
                return ctx.exp(x)
            if name in ("ln", "log"):
                if x == 0:
                    raise Unevaluable("log 0")
                charge(2 * fn)
                return ctx.log(x)
            fn_ = _FUNCS.get(name)
            if fn_ is None:
                raise Unevaluable(name)
            mag = _magnitude(ctx, x) if ctx.im(x) == 0 and x != 0 else 0.0
            if name in _PERIODIC and mag > MAX_TRIG_BITS:
                # reducing a huge argument mod pi costs time proportional to its size (tan(10^{10^5}))
                raise TooBig("trigonometric function of a huge argument")
            # the reduction of a large argument works at its magnitude's digits on top of dps
            charge(_FN_WEIGHT.get(name, 1) * fn_cost(dps + int(0.302 * max(mag, 0.0))))
            return fn_(ctx, x)
        if k == "log":
            b, x = ev(n[1], trig, env), ev(n[2], trig, env)
            if x == 0 or b == 0 or b == 1:
                raise Unevaluable("log domain")
            charge(4 * fn)
            return ctx.log(x) / ctx.log(b)
        raise Unevaluable(k)

    try:
        return ev(node, False, env or {})
    except (ZeroDivisionError, ValueError, OverflowError, TypeError, ArithmeticError) as exc:
        raise Unevaluable(str(exc)) from exc


_HUGE = object()


def _whole(ctx: mpmath.MPContext, x):
    """``x`` as a Python int when it is a real whole number under 2^62 in size, :data:`_HUGE` for a
    larger whole number (converting it would build a huge integer), else None."""
    if ctx.im(x) != 0 or ctx.isinf(x) or ctx.isnan(x) or not ctx.isint(x):
        return None
    if ctx.mag(x) > 62:
        return _HUGE
    return int(x)


def _factorial(ctx: mpmath.MPContext, x, double: bool, dps: int, charge: Charge):
    """``x!`` (or ``x!!``) of a whole number: an exact integer up to :data:`MAX_FACT_EXACT`, mpmath's
    gamma function beyond it only at low precision (its cost there grows too fast to charge)."""
    n = _whole(ctx, x)
    if n is None or (isinstance(n, int) and n < (-1 if double else 0)):
        raise Unevaluable("factorial of a non-integer")
    if not isinstance(n, int):
        raise TooBig("factorial too large")
    bits = (n / (2 if double else 1)) * math.log2(max(n, 2))
    if n > 2 and bits > MAX_NUM_BITS:
        raise TooBig("factorial too large")
    if n <= MAX_FACT_EXACT:
        charge((2 if double else 1) * (int_cost(int(bits)) + int(bits) // 4096))  # the product, then to mpf
        return ctx.mpf(_dfact_int(n) if double else math.factorial(n))
    if dps > GAMMA_MAX_DPS:
        raise TooBig("factorial too large for this precision")
    charge(50 * fn_cost(dps))
    if double:  # n!! = 2^(n/2) (n/2)! for even n; n! / (n-1)!! for odd n
        h = n // 2
        return ctx.ldexp(ctx.factorial(h), h) if n % 2 == 0 else ctx.factorial(n) / (ctx.ldexp(ctx.factorial(h), h))
    return ctx.factorial(n)


def _binomial(ctx: mpmath.MPContext, n, k, dps: int, charge: Charge):
    """``\\binom{n}{k}``: a product of ``k`` (or ``n - k``) factors for a whole ``k`` (any ``n``), mpmath's
    gamma form otherwise and only at low precision."""
    if _whole(ctx, k) is not None:
        n_whole = _whole(ctx, n) is not None and n >= 0
        if k < 0 or (n_whole and k > n):
            return ctx.mpf(0)
        kk = _whole(ctx, k)
        if n_whole:
            other = _whole(ctx, n - k)
            if isinstance(other, int) and (not isinstance(kk, int) or other < kk):
                kk = other
        if not isinstance(kk, int) or kk > MAX_BINOM_TERMS:
            raise TooBig("binomial too large")
        charge(3 * kk * arith_cost(dps))
        out = ctx.mpf(1)
        for i in range(kk):
            out = out * (n - i) / (i + 1)
        return out
    if dps > GAMMA_MAX_DPS:
        raise TooBig("binomial of non-integers too costly at this precision")
    charge(50 * fn_cost(dps))
    return ctx.binomial(n, k)


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


def rounded(node: tuple, check: Charge | None = None) -> tuple[str, str] | None:
    """The value of a constant node rounded to 12 digits, as (real, imaginary) strings; None when it
    has none. A hint for ordering comparisons only: equal values can round apart (a wrong hint costs
    more comparisons, never a verdict)."""
    try:
        v = numeric(node, 20, None, check)
    except (Unevaluable, TooBig):
        return None
    ctx = _ctx(20)
    parts = (ctx.re(v), ctx.im(v))
    if any(ctx.isnan(p) for p in parts):
        return None
    return ctx.nstr(parts[0], 12), ctx.nstr(parts[1], 12)


def _bad(ctx: mpmath.MPContext, x) -> bool:
    return ctx.isnan(x) if ctx.im(x) == 0 else (ctx.isnan(ctx.re(x)) or ctx.isnan(ctx.im(x)))


def _inf(ctx: mpmath.MPContext, x) -> bool:
    return ctx.isinf(ctx.re(x)) or ctx.isinf(ctx.im(x))


def close(a: tuple, b: tuple, digits: int = 0, env: Mapping[str, Fraction] | None = None,
          check: Charge | None = None) -> bool:
    """True when ``a`` and ``b`` have the same value (no fixed tolerance; see the module doc).

    Args:
        a, b: evaluable scalar nodes.
        digits: length of the longest digit string in the inputs (raises the precision).
        env: values of free symbols.
        check: the budget's charge callback (``Budget.check``); None charges a fresh default budget.

    Raises:
        TooBig, Unevaluable: as :func:`numeric`.
    """
    dps1 = 40 + 2 * digits
    if check is None:
        check = _no_budget()
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
