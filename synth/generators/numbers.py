"""Generators for Number Theory, Prealgebra, Intermediate Algebra and Precalculus (see :mod:`synth.generators`)."""

from __future__ import annotations

import math
import random
from fractions import Fraction

from synth.generators.base import frac, nonzero, poly

# --- Number Theory ---------------------------------------------------------------------------


def gcd(rng: random.Random, level: int):
    g = rng.randint(2, 3 + 3 * level)
    a, b = g * rng.randint(2, 4 + 4 * level), g * rng.randint(2, 4 + 4 * level)
    ans = math.gcd(a, b)
    q = f"What is the greatest common divisor of {a} and {b}?"
    sol = f"By the Euclidean algorithm, $\\gcd({a}, {b}) = {ans}$."
    return q, sol, str(ans), {"a": a, "b": b}


def lcm(rng: random.Random, level: int):
    a, b = rng.randint(2, 6 + 6 * level), rng.randint(2, 6 + 6 * level)
    ans = a * b // math.gcd(a, b)
    q = f"What is the least common multiple of {a} and {b}?"
    sol = f"$\\operatorname{{lcm}}({a}, {b}) = \\frac{{{a}\\cdot {b}}}{{\\gcd({a}, {b})}} = {ans}$."
    return q, sol, str(ans), {"a": a, "b": b}


def mod(rng: random.Random, level: int):
    """Remainders: a mod m (levels 1-2), a^e mod m above (fast modular exponentiation)."""
    m = rng.randint(3, 5 + 3 * level)
    if level <= 2:
        a = rng.randint(m + 1, 20 + 40 * level)
        ans = a % m
        q = f"What is the remainder when {a} is divided by {m}?"
        sol = f"${a} = {a // m}\\cdot {m} + {ans}$, so the remainder is ${ans}$."
        return q, sol, str(ans), {"a": a, "e": 1, "m": m}
    a, e = rng.randint(2, 5 + 2 * level), rng.randint(5, 10 * level)
    ans = pow(a, e, m)
    q = f"What is the remainder when ${a}^{{{e}}}$ is divided by {m}?"
    sol = f"Reducing powers of {a} modulo {m} step by step gives ${a}^{{{e}}} \\equiv {ans} \\pmod{{{m}}}$."
    return q, sol, str(ans), {"a": a, "e": e, "m": m}


def divisors(rng: random.Random, level: int):
    """Number of positive divisors (from the prime factorization)."""
    import sympy

    n = rng.randint(6, 100 * level * level)
    fac = sympy.factorint(n)
    ans = 1
    for e in fac.values():
        ans *= e + 1
    q = f"How many positive divisors does {n} have?"
    f_tex = "\\cdot ".join(f"{p}^{{{e}}}" if e > 1 else str(p) for p, e in sorted(fac.items()))
    prod = "\\cdot ".join(str(e + 1) for e in fac.values())
    sol = f"${n} = {f_tex}$, so it has ${prod} = {ans}$ divisors."
    return q, sol, str(ans), {"n": n}


def base_convert(rng: random.Random, level: int):
    """Write a decimal number in base b; the answer as MATH writes it: ``1011_2``."""
    b = rng.choice([2, 3, 4, 5, 6, 7, 8, 9][: 3 + level])
    n = rng.randint(b + 1, 10 + 40 * level)
    digits, v = "", n
    while v:
        digits = str(v % b) + digits
        v //= b
    ans = f"{digits}_{b}"
    q = f"Express ${n}_{{10}}$ in base {b}."
    sol = f"Dividing {n} repeatedly by {b} and reading the remainders upward gives ${ans}$."
    return q, sol, ans, {"n": n, "b": b}


# --- Prealgebra ------------------------------------------------------------------------------


def arith(rng: random.Random, level: int):
    """Order of operations. Level 1 is compact (``What is 3+4?``), for the char-level demo."""
    hi = 9 if level == 1 else 5 * level
    a, b, c, d = (rng.randint(1, hi) for _ in range(4))
    if level == 1:
        op = rng.choice("+-")
        expr, ans = f"{a}{op}{b}", a + b if op == "+" else a - b
        q = f"What is {expr}?"
        return q, f"{expr}={ans}.", str(ans), {"expr": expr}
    if level == 2:
        expr, ans = f"{a} + {b} \\times {c}", a + b * c
        tail = f"Multiply first: ${b} \\times {c} = {b * c}$, then add {a}: ${ans}$."
    elif level == 3:
        expr, ans = f"({a} + {b}) \\times {c} - {d}", (a + b) * c - d
        tail = f"Parentheses first: ${a + b}$; times {c} is ${(a + b) * c}$; minus {d} is ${ans}$."
    else:
        e = rng.randint(1, hi)
        expr, ans = f"{a} \\times {b} - {c} \\times {d} + {e}", a * b - c * d + e
        tail = f"Products first: ${a * b} - {c * d} + {e} = {ans}$."
    q = f"What is ${expr}$?"
    return q, tail, str(ans), {"expr": expr}


def fractions_(rng: random.Random, level: int):
    """Add, subtract or multiply two fractions; answer in lowest terms."""
    hi = 3 + 2 * level
    x = Fraction(rng.randint(1, hi), rng.randint(2, hi + 1))
    y = Fraction(rng.randint(1, hi), rng.randint(2, hi + 1))
    op = rng.choice(["+", "-", "\\times"] if level >= 2 else ["+"])
    ans = x + y if op == "+" else x - y if op == "-" else x * y
    q = f"What is ${frac(x)} {op} {frac(y)}$? Express your answer in simplest form."
    sol = f"${frac(x)} {op} {frac(y)} = {frac(ans)}$."
    return q, sol, frac(ans), {"x": str(x), "y": str(y), "op": op}


def percent(rng: random.Random, level: int):
    """p percent of n, with an integer result."""
    p = rng.choice([10, 20, 25, 50, 75, 5, 15, 30, 40, 60, 12, 35][: 4 + 2 * level])
    unit = 100 // math.gcd(p, 100)
    n = unit * rng.randint(1, 10 + 20 * level)
    ans = p * n // 100
    q = f"What is {p}% of {n}?"
    sol = f"${p}\\% \\times {n} = \\frac{{{p}}}{{100}}\\cdot {n} = {ans}$."
    return q, sol, str(ans), {"p": p, "n": n}


def ratio(rng: random.Random, level: int):
    """Split a total in a ratio; how many in the second group."""
    a, b = rng.randint(1, 3 + level), rng.randint(1, 3 + level)
    k = rng.randint(2, 3 + 3 * level)
    total = (a + b) * k
    x, y = rng.choice([("boys", "girls"), ("cats", "dogs"), ("red", "blue"), ("apples", "pears")])
    q = f"The ratio of {x} to {y} is ${a}:{b}$. There are {total} in all. How many {y} are there?"
    sol = f"Each part is ${total} \\div {a + b} = {k}$, so there are ${b}\\cdot {k} = {b * k}$ {y}."
    return q, sol, str(b * k), {"a": a, "b": b, "total": total}


# --- Intermediate Algebra ----------------------------------------------------------------------


def remainder(rng: random.Random, level: int):
    """Remainder of p(x) divided by x - a (remainder theorem)."""
    deg = 2 + level // 2
    coeffs = [nonzero(rng, -4, 4)] + [rng.randint(-3 * level, 3 * level) for _ in range(deg)]
    a = nonzero(rng, -2 - level // 2, 2 + level // 2)
    ans = 0
    for c in coeffs:  # Horner
        ans = ans * a + c
    div = f"x - {a}" if a > 0 else f"x + {-a}"
    q = f"What is the remainder when ${poly(coeffs)}$ is divided by ${div}$?"
    sol = f"By the remainder theorem the remainder is $p({a}) = {ans}$."
    return q, sol, str(ans), {"coeffs": coeffs, "a": a}


def vieta(rng: random.Random, level: int):
    """A monic cubic with integer roots: sum (levels 1-2), sum of squares, or sum of pairwise products."""
    r = [rng.randint(-2 - 2 * level, 2 + 2 * level) for _ in range(3)]
    e1, e2, e3 = sum(r), r[0] * r[1] + r[0] * r[2] + r[1] * r[2], r[0] * r[1] * r[2]
    coeffs = [1, -e1, e2, -e3]
    if level <= 2:
        ask, ans = "the sum of the roots", e1
    elif level == 3:
        ask, ans = "the product of the roots", e3
    else:
        ask, ans = "the sum of the squares of the roots", e1 * e1 - 2 * e2
    q = f"Let $a$, $b$, $c$ be the roots of ${poly(coeffs)} = 0$. Find {ask}."
    sol = f"By Vieta, $a+b+c = {e1}$, $ab+bc+ca = {e2}$, $abc = {e3}$, so {ask} is ${ans}$."
    return q, sol, str(ans), {"coeffs": coeffs, "ask": ask}


def sums(rng: random.Random, level: int):
    """Closed-form sums: of k, of k^2, or the telescoping sum of 1/(k(k+1))."""
    n = rng.randint(5, 20 + 20 * level)
    m = rng.randint(1, n - 1) if level >= 2 else 1  # the sum runs from k = m to n

    def upto(t: int) -> Fraction:  # closed forms of the sum from 1 to t
        if level <= 2:
            return Fraction(t * (t + 1) // 2)
        if level == 3:
            return Fraction(t * (t + 1) * (2 * t + 1) // 6)
        return Fraction(t, t + 1)

    term = "k" if level <= 2 else "k^2" if level == 3 else "\\frac{1}{k(k+1)}"
    ans = upto(n) - upto(m - 1)
    q = f"Compute $\\sum_{{k={m}}}^{{{n}}} {term}$."
    sol = f"Using the closed form $S(t)$ for $\\sum_{{k=1}}^t {term}$: $S({n}) - S({m - 1}) = {frac(ans)}$."
    return q, sol, frac(ans), {"m": m, "n": n, "term": term}


# --- Precalculus -----------------------------------------------------------------------------

#: Exact values on the unit circle at multiples of 30 and 45 degrees: (cos, sin) as sympy-free strings.
_UNIT = {
    0: ("1", "0"), 30: ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}"), 45: ("\\frac{\\sqrt{2}}{2}", "\\frac{\\sqrt{2}}{2}"),
    60: ("\\frac{1}{2}", "\\frac{\\sqrt{3}}{2}"), 90: ("0", "1"),
}
_TAN = {0: "0", 30: "\\frac{\\sqrt{3}}{3}", 45: "1", 60: "\\sqrt{3}"}


def _neg(s: str) -> str:
    return s if s == "0" else (s[1:] if s.startswith("-") else "-" + s)


def trig(rng: random.Random, level: int):
    """sin, cos or tan of a special angle in degrees (reference angles from a table)."""
    hi = 90 if level <= 2 else 360
    angles = [a for a in range(0, hi + 1, 15) if a % 30 == 0 or a % 45 == 0]
    fn = rng.choice(["sin", "cos"] if level <= 1 else ["sin", "cos", "tan"])
    while True:
        t = rng.choice(angles)
        if not (fn == "tan" and t % 180 == 90):
            break
    ref = t % 180 if t % 180 <= 90 else 180 - t % 180
    cos_s, sin_s = _UNIT[ref]
    cos_sign = -1 if 90 < t % 360 < 270 else 1
    sin_sign = -1 if 180 < t % 360 < 360 else 1
    if fn == "sin":
        ans = sin_s if sin_sign > 0 else _neg(sin_s)
    elif fn == "cos":
        ans = cos_s if cos_sign > 0 else _neg(cos_s)
    else:
        ans = _TAN[ref] if sin_sign * cos_sign > 0 else _neg(_TAN[ref])
    q = f"Compute $\\{fn} {t}^\\circ$."
    sol = f"The reference angle is ${ref}^\\circ$; with the sign for ${t}^\\circ$, $\\{fn} {t}^\\circ = {ans}$."
    return q, sol, ans, {"fn": fn, "deg": t}


def dot(rng: random.Random, level: int):
    dim = 2 if level <= 2 else 3
    u = [rng.randint(-2 - 2 * level, 2 + 2 * level) for _ in range(dim)]
    v = [rng.randint(-2 - 2 * level, 2 + 2 * level) for _ in range(dim)]
    ans = sum(a * b for a, b in zip(u, v))
    def col(w):
        return "\\begin{pmatrix} " + " \\\\ ".join(map(str, w)) + " \\end{pmatrix}"
    q = f"Compute ${col(u)} \\cdot {col(v)}$."
    sol = "$" + " + ".join(f"({a})({b})" for a, b in zip(u, v)) + f" = {ans}$."
    return q, sol, str(ans), {"u": u, "v": v}


def determinant(rng: random.Random, level: int):
    """Determinant of a 2x2 (levels 1-3) or 3x3 integer matrix (cofactor expansion)."""
    size = 2 if level <= 3 else 3
    m = [[rng.randint(-2 - level, 2 + level) for _ in range(size)] for _ in range(size)]
    if size == 2:
        ans = m[0][0] * m[1][1] - m[0][1] * m[1][0]
    else:
        (a, b, c), (d, e, f), (g, h, i) = m
        ans = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    body = " \\\\ ".join(" & ".join(map(str, row)) for row in m)
    q = f"Compute $\\begin{{vmatrix}} {body} \\end{{vmatrix}}$."
    sol = f"Expanding along the first row gives ${ans}$."
    return q, sol, str(ans), {"m": m}
