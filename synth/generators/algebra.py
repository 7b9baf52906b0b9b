"""Generators for Algebra, Counting & Probability and Geometry (see :mod:`synth.generators`)."""

from __future__ import annotations

import math
import random
from fractions import Fraction

from synth.generators.base import frac, nonzero, poly, signed_term, sym

# --- Algebra ---------------------------------------------------------------------------------


def linear(rng: random.Random, level: int):
    """a x + b = c; integer solution at levels 1-2, fractional above."""
    a = rng.randint(2, 3 + 2 * level)
    b = nonzero(rng, -5 * level, 5 * level)
    if level <= 2:
        x = Fraction(rng.randint(-3 * level, 4 * level))
        c = a * x + b
    else:
        c = Fraction(rng.randint(-10 * level, 10 * level))
    x = (c - b) / a
    q = f"Solve for $x$: ${signed_term(a, 'x', True)}{signed_term(b)} = {frac(c)}$."
    sol = f"Subtract {b} from both sides: ${a}x = {frac(c - b)}$. Divide by {a}: $x = {frac(x)}$."
    return q, sol, frac(x), {"a": a, "b": b, "c": str(c)}


def system(rng: random.Random, level: int):
    """Two linear equations in x, y with an integer solution; asks x (levels 1-2) or x + y."""
    r = 2 + 2 * level
    x, y = rng.randint(-r, r), rng.randint(-r, r)
    while True:
        a1, b1, a2, b2 = (nonzero(rng, -level - 2, level + 2) for _ in range(4))
        if a1 * b2 - a2 * b1 != 0:
            break
    c1, c2 = a1 * x + b1 * y, a2 * x + b2 * y
    ask = "x" if level <= 2 else "x+y"
    ans = x if ask == "x" else x + y
    e1 = f"{signed_term(a1, 'x', True)}{signed_term(b1, 'y')} = {c1}"
    e2 = f"{signed_term(a2, 'x', True)}{signed_term(b2, 'y')} = {c2}"
    q = f"If ${e1}$ and ${e2}$, what is ${ask}$?"
    det = a1 * b2 - a2 * b1
    sol = (f"By elimination the determinant is {det}, so $x = {c1 * b2 - c2 * b1}/{det} = {x}$ and "
           f"$y = {a1 * c2 - a2 * c1}/{det} = {y}$. So ${ask} = {ans}$.")
    return q, sol, str(ans), {"a1": a1, "b1": b1, "c1": c1, "a2": a2, "b2": b2, "c2": c2, "ask": ask}


def quadratic(rng: random.Random, level: int):
    """x^2 + b x + c = 0 with distinct integer roots; asks the larger root, the difference or the sum of squares."""
    r = 4 + 4 * level
    r1 = rng.randint(-r, r)
    r2 = rng.choice([v for v in range(-r, r + 1) if v != r1])
    b, c = -(r1 + r2), r1 * r2
    eq = poly([1, b, c])
    asks = [("the larger solution", max(r1, r2)), ("the smaller solution", min(r1, r2))]
    if level >= 3:
        asks.append(("the positive difference between the solutions", abs(r1 - r2)))
    if level >= 4:
        asks.append(("the sum of the squares of the solutions", r1 * r1 + r2 * r2))
    ask, ans = rng.choice(asks)
    q = f"What is {ask} of ${eq} = 0$?"
    sol = f"Factor: $(x - ({r1}))(x - ({r2})) = 0$, so the solutions are ${r1}$ and ${r2}$. The answer is ${ans}$."
    return q, sol, str(ans), {"b": b, "c": c, "ask": ask}


def arith_series(rng: random.Random, level: int):
    """Arithmetic sequence: the n-th term (levels 1-2) or the sum of the first n terms."""
    a = rng.randint(-3 * level, 5 * level)
    d = nonzero(rng, -level - 1, 2 * level + 1)
    n = rng.randint(4, 6 + 4 * level)
    if level <= 2:
        ans = a + (n - 1) * d
        q = f"The first term of an arithmetic sequence is ${a}$ and the common difference is ${d}$. What is term {n}?"
        sol = f"Term {n} is $a + (n-1)d = {a} + {n - 1}\\cdot {d} = {ans}$."
        ask = "term"
    else:
        ans = n * (2 * a + (n - 1) * d) // 2
        q = (f"The first term of an arithmetic sequence is ${a}$ and the common difference is ${d}$. "
             f"What is the sum of the first {n} terms?")
        sol = f"The sum is $\\frac{{n}}{{2}}(2a + (n-1)d) = \\frac{{{n}}}{{2}}({2 * a} + {(n - 1) * d}) = {ans}$."
        ask = "sum"
    return q, sol, str(ans), {"a": a, "d": d, "n": n, "ask": ask}


# --- Counting & Probability ----------------------------------------------------------------------


def combinations(rng: random.Random, level: int):
    """Choose k of n (committee counting)."""
    n = rng.randint(4, 8 + 4 * level)
    k = rng.randint(2, max(2, min(n - 2, 2 + level)))
    what = rng.choice(["people", "books", "students", "flavors", "cards", "toppings", "songs", "players",
                       "colors", "teachers", "shirts", "stamps"])
    ans = math.comb(n, k)
    q = f"In how many ways can {k} {what} be chosen from {n} {what} if order does not matter?"
    sol = f"This is $\\binom{{{n}}}{{{k}}} = \\frac{{{n}!}}{{{k}!\\,{n - k}!}} = {ans}$."
    return q, sol, str(ans), {"n": n, "k": k}


def arrangements(rng: random.Random, level: int):
    """Distinct arrangements of a letter string with repeats (multinomial)."""
    length = 3 + level
    letters = "ABCDE"[: 2 + (level + 1) // 2]
    word = "".join(rng.choice(letters) for _ in range(length))
    counts = {ch: word.count(ch) for ch in sorted(set(word))}
    ans = math.factorial(length)
    for c in counts.values():
        ans //= math.factorial(c)
    q = f"How many distinct arrangements of the letters in {word} are there?"
    denom = "\\,".join(f"{c}!" for c in counts.values())
    sol = f"There are {length} letters with repeats {counts}, so $\\frac{{{length}!}}{{{denom}}} = {ans}$."
    return q, sol, str(ans), {"word": word}


def draw_probability(rng: random.Random, level: int):
    """Two draws without replacement from a bag; probability both are red, as a fraction."""
    red = rng.randint(2, 3 + 3 * level)
    blue = rng.randint(1, 3 + 3 * level)
    green = rng.randint(1, 2 + level) if level >= 3 else 0
    total = red + blue + green
    p = Fraction(red, total) * Fraction(red - 1, total - 1)
    bag = f"{red} red marbles and {blue} blue marbles" + (f" and {green} green marbles" if green else "")
    q = (f"A bag has {bag}. Two marbles are drawn at random without replacement. "
         "What is the probability that both are red? Express your answer as a common fraction.")
    sol = f"$P = \\frac{{{red}}}{{{total}}}\\cdot\\frac{{{red - 1}}}{{{total - 1}}} = {frac(p)}$."
    return q, sol, frac(p), {"red": red, "blue": blue, "green": green}


def dice(rng: random.Random, level: int):
    """Probability that fair dice show a given sum (two dice; three at levels 4-5)."""
    faces = rng.choice([4, 6, 8, 10, 12][: 2 + level // 2 + 1])
    k = 2 if level <= 3 else 3
    s = rng.randint(k + 1, k * faces - 1)
    ways = [0] * (k * faces + 1)
    ways[0] = 1
    for _ in range(k):  # convolution of face counts
        new = [0] * len(ways)
        for tot, w in enumerate(ways):
            if w:
                for f in range(1, faces + 1):
                    if tot + f < len(new):
                        new[tot + f] += w
        ways = new
    p = Fraction(ways[s], faces**k)
    word = "two" if k == 2 else "three"
    q = (f"{word.capitalize()} fair {faces}-sided dice are rolled. What is the probability that the sum is {s}? "
         "Express your answer as a common fraction.")
    sol = f"Of the ${faces}^{k} = {faces**k}$ outcomes, {ways[s]} have sum {s}, so the probability is ${frac(p)}$."
    return q, sol, frac(p), {"faces": faces, "k": k, "s": s}


# --- Geometry --------------------------------------------------------------------------------

_TRIPLES = [(3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (20, 21, 29), (9, 40, 41), (12, 35, 37),
            (11, 60, 61), (28, 45, 53), (33, 56, 65)]


def pythagoras(rng: random.Random, level: int):
    """Right triangles: hypotenuse or a leg from triples; a simplified radical at levels 4-5."""
    import sympy

    if level <= 3:
        a, b, c = rng.choice(_TRIPLES[: 2 + 2 * level])
        m = rng.randint(1, 4 + 4 * level)
        a, b, c = a * m, b * m, c * m
        if rng.random() < 0.5:
            a, b = b, a
        if level <= 2 or rng.random() < 0.5:
            q = f"A right triangle has legs of length {a} and {b}. What is the length of the hypotenuse?"
            sol = f"$c = \\sqrt{{{a}^2 + {b}^2}} = \\sqrt{{{c * c}}} = {c}$."
            return q, sol, str(c), {"a": a, "b": b, "ask": "hyp"}
        q = f"A right triangle has a hypotenuse of length {c} and one leg of length {a}. How long is the other leg?"
        sol = f"$b = \\sqrt{{{c}^2 - {a}^2}} = \\sqrt{{{b * b}}} = {b}$."
        return q, sol, str(b), {"a": a, "c": c, "ask": "leg"}
    a, b = rng.randint(1, 6 * level), rng.randint(1, 6 * level)
    hyp = sympy.sqrt(sympy.Integer(a * a + b * b))
    q = (f"A right triangle has legs of length {a} and {b}. What is the length of the hypotenuse? "
         "Express your answer in simplest radical form.")
    sol = f"$c = \\sqrt{{{a}^2 + {b}^2}} = \\sqrt{{{a * a + b * b}}} = {sym(hyp)}$."
    return q, sol, sym(hyp), {"a": a, "b": b, "ask": "hyp"}


def triangle_area(rng: random.Random, level: int):
    """Area of a triangle with integer vertices (shoelace formula)."""
    r = 3 + 2 * level
    while True:
        pts = [(rng.randint(-r, r), rng.randint(-r, r)) for _ in range(3)]
        (x1, y1), (x2, y2), (x3, y3) = pts
        twice = abs(x1 * (y2 - y3) + x2 * (y3 - y1) + x3 * (y1 - y2))
        if twice:
            break
    area = Fraction(twice, 2)
    vs = ", ".join(f"$({x}, {y})$" for x, y in pts)
    q = f"What is the area of the triangle with vertices {vs}?"
    sol = f"By the shoelace formula the area is $\\frac{{{twice}}}{{2}} = {frac(area)}$."
    return q, sol, frac(area), {"pts": pts}


def circle(rng: random.Random, level: int):
    """Circles: area or circumference in terms of pi, from the radius, diameter or the other quantity."""
    import sympy

    r = rng.randint(1, 15 + 10 * level)
    pi = sympy.pi
    if level <= 2:
        kind = rng.choice(["area", "circumference"])
        ans = pi * r**2 if kind == "area" else 2 * pi * r
        q = f"A circle has radius {r}. What is its {kind}? Express your answer in terms of $\\pi$."
        given = {"r": r}
    elif level == 3:
        kind = "area"
        ans = pi * r**2
        q = f"A circle has diameter {2 * r}. What is its area? Express your answer in terms of $\\pi$."
        given = {"d": 2 * r}
    else:
        kind = "circumference"
        ans = 2 * pi * r
        q = f"A circle has area ${sym(pi * r**2)}$. What is its circumference? Express your answer in terms of $\\pi$."
        given = {"area_over_pi": r * r}
    sol = f"The radius is {r}, so the {kind} is ${sym(ans)}$."
    return q, sol, sym(ans), {"kind": kind, **given}
