"""Equivalence of two final answers: ``compare(pred, gold, family, budget) -> bool``.

Pipeline (each step bounded; see :mod:`harness.answers.latex` and :mod:`harness.answers.values`):

1. identical strings, then identical token streams (``\\dfrac`` = ``\\frac``, ``\\left(`` = ``(``,
   spacing ignored) are equal without any evaluation (so ``10^{10^{10}}`` equals itself);
2. both sides are parsed into a small AST by our own parser (never ``eval``/``sympify``);
3. the answers are compared by shape: a top-level list or set is an unordered multiset (``1, -2``
   = ``-2, 1``; ``\\pm`` expands to two values), a tuple/interval is ordered with its brackets,
   matrices elementwise, equations up to a non-zero factor, text case-insensitively;
4. scalars: exact ``Fraction`` arithmetic, else high-precision evaluation (constants) or exact
   evaluation at random rational points (free symbols, Schwartz-Zippel). No tolerance.

"Cannot decide" (values beyond the size bounds that agree numerically, answers past a size limit of
the reader, lists longer than :data:`MAX_ITEMS`) and running past the work budget raise
:class:`~harness.answers.types.AnswerTimeout`; they never turn into "wrong". The budget counts work
steps, not seconds (docs/grading-budget.md), so a verdict does not depend on the machine or its load.
"""

from __future__ import annotations

import logging
import random
import re
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

from harness.answers import forms as F
from harness.answers import sets as S
from harness.answers import values as V
from harness.answers.extract import undouble
from harness.answers.latex import (
    MAX_NESTING,
    ParseError,
    TooLarge,
    ascii_digits,
    fuse_thousands,
    max_nesting,
    norm_key,
    parse_tokens,
    tokenize,
)
from harness.answers.types import AnswerTimeout, Budget

logger = logging.getLogger(__name__)

MAX_PARSE_CHARS = 2000  # longer answers: equal only as strings, else too large to decide (timeout)
MAX_ITEMS = 2048  # items of a list or set matched without order (longer: timeout); a 1,000-character
                  # answer holds at most about 500, or 8 times that with \pm
MAX_PM_VARIANTS = 8  # values one item with \pm stands for (more: timeout)
MAX_SYMBOLS = 16  # free symbols of an expression compared at random points (more: timeout)
N_POINTS = 4  # random points for expressions with free symbols

_rng = random.Random(20240717)
_POINTS = [[Fraction(_rng.randint(1, 10_000), _rng.randint(1, 997)) for _ in range(16)]
           for _ in range(3 * N_POINTS)]
_BASE_RE = re.compile(
    r"^\\?\$?\s*(-?)([0-9A-Za-z]+(?:\.[0-9A-Za-z]+)?)\s*_\s*\{?\s*(\d{1,2})\s*\}?\s*\$?\s*\.?$")
_SCI_RE = re.compile(r"^\s*\$?\s*([+-]?(?:\d+\.?\d*|\.\d+))[eE]([+-]?\d{1,4})\s*\$?\s*$")
_DIGITS_RE = re.compile(r"\d+")


#: What :func:`_prepare` and :func:`_parse` return for a text past a size limit of the reader.
TOO_LARGE = ("too large",)


class _Prep(NamedTuple):
    tokens: tuple
    key: tuple
    ambiguous: bool
    digits: int


def _flat_string(s: str) -> str:
    return "".join(s.split())


@lru_cache(maxsize=65536)
def _prepare(s: str, family: str) -> _Prep | tuple | None:
    """Tokens (thousands joined where unambiguous), the comparison key, and the ambiguity flag; None
    when the text is not something the reader understands, :data:`TOO_LARGE` past its size limits."""
    if max_nesting(s) > MAX_NESTING:
        return TOO_LARGE
    try:
        toks = tokenize(s)
    except TooLarge:
        return TOO_LARGE
    except ParseError:
        return None
    fused, amb = fuse_thousands(toks, family, ambiguous=False)
    digits = max((len(m) for m in _DIGITS_RE.findall(s)), default=0)
    return _Prep(tuple(toks), norm_key(fused), amb, digits)


@lru_cache(maxsize=65536)
def _parse(s: str, family: str, fuse_ambiguous: bool) -> tuple | None:
    """The AST of an answer, None when it is not one our reader understands, :data:`TOO_LARGE` past
    the reader's size limits."""
    m = _SCI_RE.match(s)
    if m and family in ("math", "gsm8k"):
        try:
            return ("num", Fraction(m.group(1)) * Fraction(10) ** int(m.group(2)))
        except (ValueError, ZeroDivisionError):
            return None
    m = _BASE_RE.match(s.strip())
    if m and _valid_base_numeral(m.group(2), int(m.group(3))):
        return ("base", m.group(1) + m.group(2).upper(), int(m.group(3)))
    prep = _prepare(s, family)
    if not isinstance(prep, _Prep):
        return prep
    toks, _ = fuse_thousands(list(prep.tokens), family, fuse_ambiguous)
    toks, alternatives = F.rewrite(toks)
    try:
        node = parse_tokens(toks)
    except TooLarge:
        return TOO_LARGE
    except ParseError:
        return None
    return ("alt", node[1]) if alternatives and node[0] == "list" else node


def _valid_base_numeral(digits: str, base: int) -> bool:
    """``4210_7``, ``152A_{11}``: digits valid in ``base`` (2..36), at least one decimal digit."""
    if not 2 <= base <= 36 or not any(c.isdigit() for c in digits):
        return False
    return all(c == "." or int(c, 36) < base for c in digits)


def _single_number(node: tuple | None) -> bool:
    return node is not None and node[0] in V.SCALAR_KINDS


def _too_large(what: str) -> AnswerTimeout:
    return AnswerTimeout(f"{what}: too large to decide")


def compare(pred: str, gold: str, family: str, budget: Budget, *, rel_tol: float | None = None) -> bool:
    """True when the final answer ``pred`` equals the reference ``gold``.

    Args:
        pred: the extracted model answer (untrusted).
        gold: one reference answer.
        family: ``"math"`` or ``"gsm8k"`` (thousands separators differ; see the README rules).
        budget: the work budget (steps); charged in loops and for expensive arithmetic.
        rel_tol: numbers within this relative tolerance are equal; None compares exactly.

    Returns:
        True when equal; False when different or not shown equal.

    Raises:
        AnswerTimeout: past the budget, or the answers are too large to decide (values beyond the
            exact bounds, text past the reader's size limits, too many items).
        Exception: any other exception is a bug; :func:`harness.answers.grade` reports it as
            status ``error`` (never as a verdict).

    Examples:
        >>> compare("\\\\frac{1}{2}", "0.5", "math", Budget())
        True
    """
    if pred == gold:
        return True
    if not isinstance(pred, str) or not isinstance(gold, str):
        return False
    pred, gold = ascii_digits(undouble(pred)), ascii_digits(undouble(gold))
    if len(pred) > MAX_PARSE_CHARS or len(gold) > MAX_PARSE_CHARS:
        if _flat_string(pred) == _flat_string(gold):
            return True
        raise _too_large(f"an answer over {MAX_PARSE_CHARS} characters")
    budget.check()
    return _compare(pred, gold, family, budget, rel_tol)


def _compare(pred: str, gold: str, family: str, budget: Budget, rel_tol: float | None) -> bool:
    pp, gp = _prepare(pred, family), _prepare(gold, family)
    if not isinstance(pp, _Prep) or not isinstance(gp, _Prep):
        if _flat_string(pred) == _flat_string(gold):
            return True
        if TOO_LARGE in (pp, gp):
            raise _too_large("an answer past the reader's limits")
        return False
    if pp.key == gp.key:
        return True
    budget.check(len(pp.tokens) + len(gp.tokens))  # reading both answers
    pa, ga = _parse(pred, family, False), _parse(gold, family, False)
    # "1,000": a thousands separator only when the other side is a single number
    if pp.ambiguous and not gp.ambiguous and _single_number(ga):
        fused = _parse(pred, family, True)
        if _single_number(fused):
            pa = fused
    if gp.ambiguous and not pp.ambiguous and _single_number(pa):
        fused = _parse(gold, family, True)
        if _single_number(fused):
            ga = fused
    if pa is None or ga is None or TOO_LARGE in (pa, ga):
        if _casefold_key(pp.key) == _casefold_key(gp.key):
            return True
        if TOO_LARGE in (pa, ga):
            raise _too_large("an answer past the reader's limits")
        return False
    cmp = _Comparer(budget, max(pp.digits, gp.digits), rel_tol)
    if cmp.answers(pa, ga):
        return True
    if pp.ambiguous and gp.ambiguous:
        fa, fg = _parse(pred, family, True), _parse(gold, family, True)
        if fa is not None and fg is not None and TOO_LARGE not in (fa, fg) and (fa, fg) != (pa, ga):
            return cmp.answers(fa, fg)
    return False


def _casefold_key(key: tuple) -> tuple:
    return tuple((k, v.lower()) for k, v in key if (k, v) != ("op", "."))


# ---------------------------------------------------------------------------------------------
# shapes


def _is_var(node: tuple) -> bool:
    if node[0] == "sym":
        return True
    if node[0] == "seq" and node[1] == "(" and all(x[0] == "sym" for x in node[3]):
        return True
    # f(x) = ..., written as f * x
    return (node[0] == "mul" and len(node[1]) == 2 and node[1][0][0] == "sym"
            and node[1][1][0] in ("sym", "num"))


def _strip_lhs(node: tuple) -> tuple:
    """``x = 5`` -> ``5``; ``x = 2401/100 = 24.01`` -> ``24.01``; ``x \\in [1,2]`` -> ``[1,2]``;
    ``x = 1/3 \\approx 0.33`` -> ``1/3`` (an approximation after an exact value is dropped);
    ``\\frac{NO}{BO} = \\frac{1}{\\sqrt6}`` -> the value (a labelled constant)."""
    if node[0] != "rel":
        return node
    ops, parts = node[1], node[2]
    while len(ops) > 1 and ops[-1] == "\\approx" and "=" in ops[:-1]:
        ops, parts = ops[:-1], parts[:-1]
    if ops == ("=",) and F.is_label(parts[0]) and not V.free_symbols(parts[1]) \
            and parts[1][0] in V.SCALAR_KINDS | {"ratio"}:
        return parts[1]
    if all(o in ("=", "\\approx") for o in ops):
        if _is_var(parts[0]):
            return parts[-1]
        if len(parts) == 2 and _is_var(parts[1]) and not V.free_symbols(parts[0]):
            return parts[0]  # "5 = x"
        if all(p[0] in V.SCALAR_KINDS and not V.free_symbols(p) for p in parts):
            return parts[-1]  # "1/2 = 0.5": the last side is the final answer
        return node
    if ops == ("\\in",) and _is_var(parts[0]):
        return parts[1]
    return node


def _expand_pm(node: tuple) -> list[tuple]:
    """``a \\pm b`` -> ``[a + b, a - b]`` (each ± independently).

    Raises:
        AnswerTimeout: more than :data:`MAX_PM_VARIANTS` values (too large to decide).
    """
    if node[0] not in V.SCALAR_KINDS or not _has_pm(node):
        return [node]
    out = [node]
    while True:
        nxt = []
        for n in out:
            nxt.extend(_split_first_pm(n))
        if len(nxt) == len(out):
            break
        if len(nxt) > MAX_PM_VARIANTS:
            raise _too_large(f"more than {MAX_PM_VARIANTS} values of \\pm")
        out = nxt
    return list(dict.fromkeys(out))


@lru_cache(maxsize=8192)
def _has_pm(node: tuple) -> bool:
    if node[0] == "pm":
        return True
    for child in node[1:]:
        if isinstance(child, tuple) and child:
            if isinstance(child[0], str):
                if _has_pm(child):
                    return True
            elif any(isinstance(c, tuple) and c and isinstance(c[0], str) and _has_pm(c)
                     for c in child):
                return True
    return False


def _split_first_pm(node: tuple) -> list[tuple]:
    if node[0] == "pm":
        a, b = node[1], node[2]
        plus = b if a == ("num", Fraction(0)) else ("add", (a, b))
        minus = ("neg", b) if a == ("num", Fraction(0)) else ("add", (a, ("neg", b)))
        return [plus, minus]
    parts = list(node)
    for i, child in enumerate(parts[1:], 1):
        if isinstance(child, tuple) and child and isinstance(child[0], str):
            if _has_pm(child):
                return [tuple(parts[:i] + [v] + parts[i + 1:]) for v in _split_first_pm(child)]
        elif isinstance(child, tuple):
            for j, c in enumerate(child):
                if isinstance(c, tuple) and c and isinstance(c[0], str) and _has_pm(c):
                    return [tuple(parts[:i] + [child[:j] + (v,) + child[j + 1:]] + parts[i + 1:])
                            for v in _split_first_pm(c)]
    return [node]


def _top_items(node: tuple) -> list[tuple]:
    items = F.solutions(node[1]) if node[0] in ("list", "set") else (node,)
    out: list[tuple] = []
    for it in items:
        fn = F.function_def(it)
        if fn is not None:  # "f(x) = x^2": compared as a function (its variable renamed)
            out.append(fn)
            continue
        if it[0] == "lab":  # "Maximum 60": the value keeps its label
            out.extend(("lab", it[1], x) for x in _expand_pm(_strip_lhs(it[2])))
            continue
        it = _strip_lhs(it)
        if it[0] == "set" and node[0] == "list" or it[0] == "set" and node[0] != "set" and len(items) == 1:
            inner = [_strip_lhs(x) for x in it[1]]
        else:
            inner = [it]
        for x in inner:
            out.extend(_expand_pm(x))
    return out


def _choice_of(node: tuple) -> str | None:
    if node[0] == "choice":
        return node[1]
    if node[0] == "sym" and len(node[1]) == 1 and "A" <= node[1] <= "Z":
        return node[1]
    if node[0] == "text" and len(node[1]) == 1 and node[1].isalpha():
        return node[1].upper()
    return None


def _flat(node: tuple) -> str | None:
    k = node[0]
    if k == "text":  # "9 a.m." = "9 am"; "Monday." = "monday"
        return re.sub(r"\s+|(?<!\d)\.|\.(?!\d)", "", node[1])
    if k == "sym":
        return node[1].lower()
    if k == "const" and node[1] in ("e", "i"):
        return node[1]
    if k == "choice":
        return node[1].lower()
    if k == "num":
        q = node[1]
        return str(q.numerator) if q.denominator == 1 else None
    if k == "mul" and all(f[0] in ("sym", "const") for f in node[1]):
        parts = [_flat(f) for f in node[1]]
        return None if None in parts else "".join(parts)  # type: ignore[arg-type]
    return None


_YES_NO = {"yes": "yes", "no": "no"}


def _polarity(node: tuple) -> str | None:
    """"yes"/"no" for a text answer that opens with Yes or No and names no other yes/no
    ("No such integers exist" -> no; "No for (a), yes for (b)" -> None: two answers)."""
    if node[0] == "text":
        words = re.findall(r"[a-z]+", node[1])
    elif node[0] in ("sym", "mul") and _flat(node) in _YES_NO:  # No written in math mode: N o
        words = [_flat(node) or ""]
    else:
        return None
    if not words or words[0] not in _YES_NO or sum(w in _YES_NO for w in words) != 1:
        return None
    return _YES_NO[words[0]]


_DELIM = {"\\langle": "(", "\\rangle": ")"}
_FLIP = {">": "<", "\\ge": "\\le", "<": ">", "\\le": "\\ge"}


class _Comparer:
    """Structural comparison with a shared budget and precision hint."""

    def __init__(self, budget: Budget, digits: int, rel_tol: float | None = None) -> None:
        self.budget = budget
        self.digits = digits
        self.rel_tol = rel_tol

    # -- answers and items
    def answers(self, a: tuple, b: tuple) -> bool:
        a, b = self.alternatives(self.prose(a)), self.alternatives(self.prose(b))
        if a[0] == b[0] == "rel" and self.relation(a, b):  # "y = 2x" vs "2x = y"
            return True
        A, B = _top_items(a), _top_items(b)
        if any(x[0] == "lab" for x in A + B):
            labelled = self.labelled(A, B)
            if labelled is not None:
                return labelled
            A, B = [x[2] if x[0] == "lab" else x for x in A], [x[2] if x[0] == "lab" else x for x in B]
        if len(A) != len(B):
            return False
        if len(A) == 1:
            return self.item(A[0], B[0])
        return self.multiset(A, B)

    def prose(self, node: tuple) -> tuple:
        """``\\text{Yes, such a coloring exists}`` reads as a list of text items: one text when it
        opens with a single yes/no (see :func:`_polarity`)."""
        if node[0] in ("list", "alt") and all(x[0] == "text" for x in node[1]):
            joined = ("text", " ".join(x[1] for x in node[1]))
            if _polarity(joined) is not None:
                return joined
        return node

    def alternatives(self, node: tuple) -> tuple:
        """``65537 \\text{ or } 2^{16}+1``: items joined by "or" that are all equal are one value
        written two ways; otherwise they are a list (``x = 1 \\text{ or } x = 2``)."""
        if node[0] != "alt":
            return node
        items = node[1]
        if len(items) <= MAX_PM_VARIANTS and all(self.item(items[0], x) for x in items[1:]):
            return items[0]
        return ("list", items)

    def labelled(self, A: list[tuple], B: list[tuple]) -> bool | None:
        """Both sides label every value with a distinct extreme ("Maximum 60 and Minimum 12" vs
        "12 (minimum), 60 (maximum)"): equal when the same labels carry equal values. None when the
        labels do not decide (one side unlabelled: the values are compared as a list)."""
        la = {x[1]: x[2] for x in A if x[0] == "lab"}
        lb = {x[1]: x[2] for x in B if x[0] == "lab"}
        if len(la) != len(A) or len(lb) != len(B):
            return None
        return la.keys() == lb.keys() and all(self.item(la[k], lb[k]) for k in la)

    def function(self, a: tuple, b: tuple) -> bool:
        """Labelled functions (``("fn", name, vars, body)``): same name and arity, bodies equal with
        the variables renamed alike (``g(n) = 2`` = ``g(x) = 2``); a labelled function against a bare
        expression compares its body (``f(x) = x^2`` vs ``x^2``)."""
        if a[0] == b[0] == "fn":
            if a[1] != b[1] or len(a[2]) != len(b[2]):
                return False
            names = [f"\\arg{i}" for i in range(len(a[2]))]
            return self.item(F.rename(a[3], dict(zip(a[2], names))), F.rename(b[3], dict(zip(b[2], names))))
        return self.item(a[3], b) if a[0] == "fn" else self.item(a, b[3])

    def cases(self, a: tuple, b: tuple) -> bool:
        """Piecewise values: the same rows in any order, each with an equal value and condition."""
        left = list(b[1])
        if len(a[1]) != len(left):
            return False
        for va, ca in a[1]:
            for j, (vb, cb) in enumerate(left):
                self.budget.check()
                if self.item(va, vb) and (ca == cb or ca is not None and cb is not None and self.item(ca, cb)):
                    del left[j]
                    break
            else:
                return False
        return True

    def multiset(self, A: list[tuple], B: list[tuple]) -> bool:
        """Unordered match (greedy; equality is transitive). Lengths must agree.

        Each item of ``A`` tries first the items of ``B`` with the same approximate value
        (:meth:`hint`), then the rest in order: the hint only orders the tries, every pair is still
        decided by :meth:`item`, so a list in any order costs about one comparison per item.

        Raises:
            AnswerTimeout: more than :data:`MAX_ITEMS` items, or past the budget.
        """
        if len(A) != len(B):
            return False
        if len(A) > MAX_ITEMS:
            raise _too_large(f"a list of more than {MAX_ITEMS} items")
        if A == B:
            return True
        by_hint: dict[object, list[int]] = {}
        for j, y in enumerate(B):
            h = self.hint(y)
            if h is not None:
                by_hint.setdefault(h, []).append(j)
        left = dict.fromkeys(range(len(B)))
        for x in A:
            h = self.hint(x)
            first = [j for j in by_hint.get(h, ()) if j in left] if h is not None else []
            tried = set(first)
            for j in first + [j for j in left if j not in tried]:
                self.budget.check()
                if self.item(x, B[j]):
                    del left[j]
                    break
            else:
                return False
        return True

    def hint(self, node: tuple) -> object:
        """A rounded value of a constant item (tuples of them too), or None: equal items almost always
        share it, so :meth:`multiset` tries those first (a wrong hint only costs more tries)."""
        node = _strip_lhs(node)
        while node[0] == "deg":
            node = node[1]
        if node[0] == "seq":
            inner = tuple(self.hint(x) for x in node[3])
            return None if None in inner else (node[1], node[2], inner)
        if node[0] not in V.SCALAR_KINDS or node[0] == "pct" or not V.evaluable(node) or V.free_symbols(node):
            return None
        return V.rounded(node, self.budget.check)

    def item(self, a: tuple, b: tuple) -> bool:
        if a == b:
            return True
        self.budget.check()
        a, b = _strip_lhs(a), _strip_lhs(b)
        while a[0] == "deg":
            a = a[1]
        while b[0] == "deg":
            b = b[1]
        if a == b:
            return True
        a, b = self.alternatives(a), self.alternatives(b)
        ka, kb = a[0], b[0]
        if ka == "fn" or kb == "fn":
            return self.function(a, b)
        if ka == "lab" or kb == "lab":
            return self.item(a[2] if ka == "lab" else a, b[2] if kb == "lab" else b)
        if ka == "cases" or kb == "cases":
            return ka == kb and self.cases(a, b)
        if ka == "pct" or kb == "pct":
            if ka == "pct" and kb == "pct":
                return self.item(a[1], b[1])
            ra = [a[1], ("div", a[1], ("num", Fraction(100)))] if ka == "pct" else [a]
            rb = [b[1], ("div", b[1], ("num", Fraction(100)))] if kb == "pct" else [b]
            return any(self.item(x, y) for x in ra for y in rb)
        if ka == "choice" or kb == "choice":
            la, lb = _choice_of(a), _choice_of(b)
            return la is not None and la == lb
        if ka == "text" or kb == "text":
            ya, yb = _polarity(a), _polarity(b)
            if ya is not None and yb is not None:  # "No such integers exist" vs "No"
                return ya == yb
            fa, fb = _flat(a), _flat(b)
            return fa is not None and fa == fb
        if ka == "base" or kb == "base":
            return self.base(a, b)
        if ka == "matrix" or kb == "matrix" or F.matrix_expr(a) or F.matrix_expr(b):
            try:
                return self.matrix(a, b)
            except V.TooBig:
                raise _too_large("a matrix expression") from None
        if ka in V.SCALAR_KINDS and kb in V.SCALAR_KINDS:
            return self.scalar(a, b)
        if ka == "seq" and kb == "seq":
            if (_DELIM.get(a[1], a[1]), _DELIM.get(a[2], a[2])) != (
                    _DELIM.get(b[1], b[1]), _DELIM.get(b[2], b[2])):
                return False
            return self.ordered(a[3], b[3])
        if ka == kb and ka in ("set", "union", "intersect"):
            return self.multiset(self.expand_all(a[1]), self.expand_all(b[1]))
        if ka == kb == "setminus":
            return self.ordered(a[1], b[1])
        if ka == kb == "ratio":
            return self.ordered(a[1], b[1])
        if ka == kb == "rel":
            return self.relation(a, b)
        if ka == kb == "list":
            return self.multiset(list(a[1]), list(b[1]))
        return self.solution_sets(a, b)

    def solution_sets(self, a: tuple, b: tuple) -> bool:
        """Relations, intervals and unions as sets of reals (``a`` is the answer, ``b`` the gold):
        ``x \\ge 5`` = ``[5, \\infty)``; ``(p, q)`` is read as an interval only against a gold range."""
        kinds = {"rel", "seq", "union", "set"}
        if a[0] not in kinds or b[0] not in kinds or "rel" not in (a[0], b[0]) and "union" not in (a[0], b[0]):
            return False
        try:
            ra, rb = S.relation_set(a, self.budget.check), S.relation_set(b, self.budget.check)
        except V.TooBig:
            raise _too_large("a relation's bounds") from None
        if ra is not None and rb is not None and ra[0] != rb[0]:
            return False  # x > 5 is not y > 5
        sa = ra[1] if ra is not None else S.interval_of(a, b[0] in ("rel", "union"))
        sb = rb[1] if rb is not None else S.interval_of(b, a[0] == "union")
        if sa is None or sb is None:
            return False
        return S.same_set(sa, sb, self.item, self.sort_value)

    def sort_value(self, node: tuple) -> float:
        self.budget.check()
        try:
            v = V.numeric(node, 30, None, self.budget.check)
            return float(v.real) if hasattr(v, "real") else float(v)
        except V.TooBig:
            raise _too_large("an interval end") from None
        except (V.Unevaluable, TypeError, ValueError):
            return 0.0

    def expand_all(self, items: tuple) -> list[tuple]:
        out: list[tuple] = []
        for x in items:
            out.extend(_expand_pm(x))
        return out

    def ordered(self, A: tuple, B: tuple) -> bool:
        return len(A) == len(B) and all(self.item(x, y) for x, y in zip(A, B))

    def matrix(self, a: tuple, b: tuple) -> bool:
        def rows(n: tuple) -> tuple | None:
            if F.matrix_expr(n):
                return F.matrix_value(n)
            if n[0] == "matrix":
                return n[2] if n[1] == "matrix" else None
            if n[0] == "seq" and n[1] == "(" and n[2] == ")":  # a tuple is a column vector
                return tuple((x,) for x in n[3])
            return None
        if a[0] == b[0] == "matrix" and a[1] != b[1]:
            return False
        if a[0] == b[0] == "matrix" and a[1] != "matrix":
            ra, rb = a[2], b[2]
        else:
            ra, rb = rows(a), rows(b)
        if ra is None or rb is None or len(ra) != len(rb):
            return False
        return all(self.ordered(x, y) for x, y in zip(ra, rb))

    def base(self, a: tuple, b: tuple) -> bool:
        """``4210_7``: same digits and base; the base may be left out on one side."""
        if a[0] != "base":
            a, b = b, a
        if b[0] == "base":
            return a[1] == b[1] and a[2] == b[2]
        if b[0] == "num" and re.fullmatch(r"-?\d+(\.\d+)?", a[1]):
            return Fraction(a[1]) == b[1]
        return False

    def relation(self, a: tuple, b: tuple) -> bool:
        def canon(n: tuple) -> tuple[tuple, tuple]:
            ops, parts = n[1], n[2]
            if all(o in (">", "\\ge") for o in ops):
                return tuple(_FLIP[o] for o in reversed(ops)), tuple(reversed(parts))
            return ops, parts
        (oa, pa), (ob, pb) = canon(a), canon(b)
        if oa == ob == ("=",):
            return self.equation(pa, pb)
        if oa == ob and self.ordered(pa, pb):
            return True
        return "=" not in oa + ob and self.solution_sets(a, b)

    def equation(self, pa: tuple, pb: tuple) -> bool:
        """``lhs = rhs`` equal up to a non-zero constant factor (or side by side)."""
        if self.ordered(pa, pb) or self.ordered(pa, pb[::-1]):
            return True
        if not all(p[0] in V.SCALAR_KINDS and V.evaluable(p) for p in pa + pb):
            return False
        f = ("add", (pa[0], ("neg", pa[1])))
        g = ("add", (pb[0], ("neg", pb[1])))
        syms = sorted(V.free_symbols(f) | V.free_symbols(g))
        if not syms:
            return False
        if len(syms) > MAX_SYMBOLS:
            raise _too_large(f"an equation in more than {MAX_SYMBOLS} symbols")
        ratio = None
        ok = 0
        for point in _POINTS:
            self.budget.check()
            env = dict(zip(syms, point))
            try:
                fv, gv = V.exact(f, env, self.budget.check), V.exact(g, env, self.budget.check)
            except V.TooBig:
                raise _too_large("an equation's values") from None
            except V.NotExact:
                return False
            except V.Unevaluable:
                continue
            if ratio is None:
                if gv == 0:
                    if fv != 0:
                        return False
                    continue
                ratio = fv / gv
                if ratio == 0:
                    return False
            elif fv != ratio * gv:
                return False
            ok += 1
            if ok >= N_POINTS + 1:
                return True
        return False

    # -- scalars
    def scalar(self, a: tuple, b: tuple) -> bool:
        if a == b:
            return True
        if a[0] == "pm" or b[0] == "pm":
            return False
        if not (V.evaluable(a) and V.evaluable(b)):
            return False
        syms = sorted(V.free_symbols(a) | V.free_symbols(b))
        if not syms:
            return self.constant(a, b)
        if len(syms) > MAX_SYMBOLS:
            raise _too_large(f"an expression in more than {MAX_SYMBOLS} symbols")
        ok = 0
        big = False
        for point in _POINTS:
            self.budget.check()
            env = dict(zip(syms, point))
            try:
                try:
                    same = V.exact(a, env, self.budget.check) == V.exact(b, env, self.budget.check)
                except (V.NotExact, V.TooBig) as exc:
                    big = big or isinstance(exc, V.TooBig)
                    same = V.close(a, b, self.digits, env, self.budget.check)
            except V.Unevaluable:
                continue
            except V.TooBig:
                raise AnswerTimeout("values too large to compare exactly")
            if not same:
                return False
            ok += 1
            if ok >= N_POINTS:
                if big:  # numerically equal, but too large to confirm exactly
                    raise AnswerTimeout("values too large to compare exactly")
                return True
        return False

    def within_tolerance(self, a: tuple, b: tuple) -> bool:
        """``|a - b| <= rel_tol * max(|a|, |b|)`` for two constants (real or complex)."""
        try:
            va = V.numeric(a, 30, None, self.budget.check)
            vb = V.numeric(b, 30, None, self.budget.check)
            return bool(abs(va - vb) <= self.rel_tol * max(abs(va), abs(vb)))
        except V.Unevaluable:
            return False
        except V.TooBig:
            raise AnswerTimeout("values too large to compare") from None

    def constant(self, a: tuple, b: tuple) -> bool:
        if self.rel_tol is not None and self.within_tolerance(a, b):
            return True
        big = False
        try:
            return V.exact(a, None, self.budget.check) == V.exact(b, None, self.budget.check)
        except V.TooBig:
            big = True
        except V.NotExact:
            pass
        except V.Unevaluable:
            return False
        if not big:
            # the other side may still be too big for the exact path
            for n in (a, b):
                try:
                    V.exact(n, None, self.budget.check)
                except V.TooBig:
                    big = True
                except (V.NotExact, V.Unevaluable):
                    pass
        try:
            same = V.close(a, b, self.digits, None, self.budget.check)
        except V.Unevaluable:
            return False
        except V.TooBig:
            raise AnswerTimeout("values too large to compare exactly")
        if same and big:
            raise AnswerTimeout("values too large to compare exactly")
        return same
