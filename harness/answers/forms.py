"""Answer forms the comparison reads specially (pure AST -> AST helpers, no evaluation):

- labels: ``\\frac{NO}{BO} = \\frac{1}{\\sqrt6}`` states the value of a named quantity;
- solutions: ``p=5, q=2; p=7, q=2`` lists two solutions ``(5, 2), (7, 2)``;
- matrix expressions: ``A + B``, ``A B``, ``2A`` of explicit matrices, evaluated entrywise into AST
  nodes that :mod:`harness.answers.equiv` then compares exactly.
"""

from __future__ import annotations

from harness.answers import values as V


def is_label(node: tuple) -> bool:
    """A name for a quantity, not an expression in it: ``AB``, ``|AB|``, ``\\frac{NO}{BO}``,
    ``V_1 : V_2``, ``S_{MBCN}`` (symbols only, no numbers, no sums)."""
    k = node[0]
    if k == "sym":
        return True
    if k in ("mul", "ratio"):
        return all(is_label(f) for f in node[1])
    if k == "div":
        return is_label(node[1]) and is_label(node[2])
    if k == "over":  # \\overline{AB}, \\vec{v}
        return is_label(node[-1])
    if k == "abs":  # |AB|, |\\vec{v}|: a length; but |x| = 3 is an equation in x
        inner = node[1]
        return inner[0] == "over" or (inner[0] == "mul" and all(f[0] == "sym" for f in inner[1]))
    if k == "sub":
        return is_label(node[1]) and node[2][0] in ("sym", "num", "mul")
    return False


def solutions(items: tuple) -> tuple:
    """``p=5, q=2; p=7, q=2`` -> ``(5, 2), (7, 2)``: labelled values whose names repeat in a fixed
    order are tuples of one solution each (at least two names, at least two solutions)."""
    if len(items) < 4 or not all(i[0] == "rel" and i[1] == ("=",) and i[2][0][0] == "sym" for i in items):
        return items
    names = [i[2][0][1] for i in items]
    m = names.index(names[0], 1) if names[0] in names[1:] else len(names)
    if m < 2 or len(names) % m or names != names[:m] * (len(names) // m) or len(set(names[:m])) != m:
        return items
    return tuple(("seq", "(", ")", tuple(i[2][1] for i in items[j:j + m])) for j in range(0, len(items), m))


#: Names read as functions in ``f(x) = ...`` (a product ``a(b) = ...`` of other letters stays a product).
FUNCTION_NAMES = frozenset("fghFGHPQpq")


def function_def(node: tuple) -> tuple | None:
    """``f(x) = x^2`` / ``f(x) \\equiv 0`` / ``P(x, y) = x + y`` -> ``("fn", name, vars, body)``; else None.

    The left side is a function name applied to distinct plain variables (other than the name)."""
    if node[0] != "rel" or node[1] not in (("=",), ("\\equiv",)) or len(node[2]) != 2:
        return None
    lhs, body = node[2]
    if lhs[0] != "mul" or len(lhs[1]) != 2 or lhs[1][0][0] != "sym" or lhs[1][0][1] not in FUNCTION_NAMES:
        return None
    name, arg = lhs[1][0][1], lhs[1][1]
    args = arg[3] if arg[0] == "seq" and arg[1] == "(" and arg[2] == ")" else (arg,)
    names = tuple(x[1] for x in args if x[0] == "sym")
    if len(names) != len(args) or len(set(names)) != len(names) or name in names:
        return None
    return ("fn", name, names, body)


def rename(node: tuple, names: dict[str, str]) -> tuple:
    """``node`` with the symbols in ``names`` renamed (a variable-for-variable substitution)."""
    if node[0] == "sym":
        return ("sym", names.get(node[1], node[1]))
    out: list = [node[0]]
    for child in node[1:]:
        if isinstance(child, tuple) and child and isinstance(child[0], str):
            out.append(rename(child, names))
        elif isinstance(child, tuple):
            out.append(tuple(_rename_any(c, names) for c in child))
        else:
            out.append(child)
    return tuple(out)


def _rename_any(child: object, names: dict[str, str]) -> object:
    if isinstance(child, tuple) and child and isinstance(child[0], str):
        return rename(child, names)
    if isinstance(child, tuple):  # a cases row (value, condition) or a matrix row
        return tuple(_rename_any(c, names) for c in child)
    return child


MAX_MATRIX_DIM = 8
#: Nodes in all entries of a matrix expression's value: a chain of products grows them geometrically
#: (``A A A ...``), and past this size the value is "too large to decide" (:class:`~values.TooBig`).
MAX_MATRIX_NODES = 20_000


def matrix_expr(node: tuple) -> bool:
    """A sum, product or negation with an explicit matrix in it (``A + B``, ``A B``, ``2A``)."""
    if node[0] == "neg":
        return node[1][0] == "matrix" or matrix_expr(node[1])
    return node[0] in ("add", "mul") and any(f[0] == "matrix" or matrix_expr(f) for f in node[1])


def matrix_value(node: tuple) -> tuple | None:
    """The rows of a matrix expression, entries as AST nodes (compared exactly later); None when the
    shapes do not fit, a factor is not a matrix or scalar, or a side is over MAX_MATRIX_DIM.

    Raises:
        values.TooBig: the entries grow past :data:`MAX_MATRIX_NODES` nodes.
    """
    k = node[0]
    if k == "matrix":
        rows = node[2]
        ok = node[1] == "matrix" and len(rows) <= MAX_MATRIX_DIM and len(rows[0]) <= MAX_MATRIX_DIM
        return rows if ok else None
    if k == "neg":
        m = matrix_value(node[1])
        return None if m is None else tuple(tuple(("neg", x) for x in r) for r in m)
    if k == "add":
        found = [matrix_value(t) for t in node[1]]
        ms = [m for m in found if m is not None]
        if len(ms) != len(found) or len({(len(m), len(m[0])) for m in ms}) != 1:
            return None
        return tuple(tuple(("add", tuple(m[i][j] for m in ms)) for j in range(len(ms[0][0])))
                     for i in range(len(ms[0])))
    if k == "mul":
        acc: tuple | None = None
        scalars: list[tuple] = []
        for f in node[1]:
            if f[0] in V.SCALAR_KINDS and not matrix_expr(f):
                scalars.append(f)
                continue
            m = matrix_value(f)
            if m is None:
                return None
            if acc is None:
                acc = m
            elif len(acc[0]) != len(m):
                return None
            else:
                acc = tuple(tuple(("add", tuple(("mul", (acc[i][t], m[t][j])) for t in range(len(m))))
                                  for j in range(len(m[0]))) for i in range(len(acc)))
                if _nodes(acc, MAX_MATRIX_NODES) > MAX_MATRIX_NODES:
                    raise V.TooBig("matrix product too large")
        if acc is None:
            return None
        return tuple(tuple(("mul", (*scalars, x)) if scalars else x for x in r) for r in acc)
    return None


# ---------------------------------------------------------------------------------------------
# answers in words (engine 1.3): a token pass before parsing

_SEPS = {",", ";"}
_SEP_WORDS = {"and", "or"}
_OPEN = {"(", "[", "{", "\\{", "\\langle", "\\lfloor", "\\lceil"}
_CLOSE = {")", "]", "}", "\\}", "\\rangle", "\\rfloor", "\\rceil"}
#: Words that end a lead-in phrase: "The least such $n$ is 12", "All solutions are ...", "Answer: 5".
_LEAD_END = {"is", "are", "equals", "be"}
#: A lead-in with one of these words is not a harmless wrapper ("The answer is not 12").
_NEGATIONS = {"not", "no", "never", "neither", "nor", "none", "cannot", "except", "unless", "isn't",
              "aren't", "only", "if", "otherwise"}
#: Labelled extremes: "Maximum 60", "12 (minimum)", "the largest value is 7".
EXTREMES = {"max": "max", "maximum": "max", "largest": "max", "greatest": "max", "biggest": "max",
            "highest": "max", "min": "min", "minimum": "min", "smallest": "min", "least": "min",
            "lowest": "min"}
_EXTREME_FILLER = {"the", "a", "value", "values", "possible", "of"}
#: Qualifier openers after a stated function or value: "for all x", "for some constant k", "\forall x".
_QUANT = {"all", "every", "each", "any", "some", "arbitrary", "an", "a"}


def _is_sep(t: tuple) -> bool:
    return (t[0] == "op" and t[1] in _SEPS) or (t[0] in ("word", "id") and t[1].lower() in _SEP_WORDS)


def _segments(tokens: list) -> list[tuple[int, int]]:
    """(start, end) of the items between top-level separators (``,`` ``;`` and/or)."""
    out, depth, start = [], 0, 0
    for i, t in enumerate(tokens):
        if t[0] == "op" and t[1] in _OPEN or t[0] == "begin":
            depth += 1
        elif t[0] == "op" and t[1] in _CLOSE or t[0] == "end":
            depth -= 1
        elif depth == 0 and _is_sep(t):
            out.append((start, i))
            start = i + 1
    out.append((start, len(tokens)))
    return out


def _low(t: tuple) -> str:
    return t[1].lower() if t[0] in ("word", "id") else t[1]


def _lead_in(seg: list) -> list:
    """Drop a lead-in phrase: words (and names) ending in "is"/"are"/":" before the value, with at
    least one text word, no negation, and a value after it."""
    end = -1
    for i, t in enumerate(seg):
        if t[0] not in ("word", "id") and not (t[0] == "op" and t[1] == ":"):
            break
        if _low(t) in _NEGATIONS:
            return seg
        if _low(t) in _LEAD_END or t[1] == ":":
            end = i
    if end < 0 or end + 1 >= len(seg) or not any(_wordy(t) for t in seg[:end + 1]) and seg[end][1] != ":":
        return seg
    return seg[end + 1:]


def _wordy(t: tuple) -> bool:
    """A word of text: a ``\\text{}`` word or a run of three or more letters in math mode."""
    return t[0] == "word" or t[0] == "id" and len(t[1]) >= 3


def _qualifier_at(seg: list, i: int) -> bool:
    t = seg[i]
    if t[0] == "cmd" and t[1] == "\\forall":
        return True
    if t[0] != "word":
        return False
    w = t[1].lower()
    if w in ("where", "with") or w == "for" and i + 1 < len(seg) and seg[i + 1][0] == "word" \
            and seg[i + 1][1].lower() in _QUANT:
        return True
    return False


def _has_relation(seg: list) -> bool:
    return any(t[0] in ("op", "cmd") and t[1] in ("=", "\\equiv") for t in seg)


def _domain_only(seg: list) -> bool:
    """``x \\in \\mathbb{N}``, ``c \\in \\mathbb R``, ``k`` alone: a qualifier's continuation."""
    vals = [t for t in seg if not (t[0] == "op" and t[1] in ("(", ")"))]
    if not vals or any(t[0] == "num" for t in vals):
        return False
    if all(t[0] == "id" and len(t[1]) == 1 for t in vals):
        return True
    return any(t[:2] == ("cmd", "\\in") for t in vals) and any(t[:2] == ("cmd", "\\mathbb") for t in vals)


def _extreme(seg: list) -> tuple[str | None, list]:
    """("max"/"min", the value's tokens) for "Maximum 60", "60 (maximum)", "the minimum is 12"."""
    hits = [i for i, t in enumerate(seg) if t[0] in ("word", "id") and t[1].lower() in EXTREMES]
    if len(hits) != 1:
        return None, seg
    i = hits[0]
    label = EXTREMES[seg[i][1].lower()]
    rest = seg[:i] + seg[i + 1:]
    if 0 < i < len(seg) - 1 and seg[i - 1][:2] == ("op", "(") and seg[i + 1][:2] == ("op", ")"):
        rest = seg[:i - 1] + seg[i + 2:]  # "60 (maximum)"
    rest = _lead_in([t for t in rest if not (t[0] in ("word", "id") and t[1].lower() in _EXTREME_FILLER)])
    while rest and rest[0][0] == "op" and rest[0][1] in ("=", ":"):
        rest = rest[1:]
    if not rest or any(_wordy(t) or t[0] == "word" for t in rest):
        return None, seg
    return label, rest


def rewrite(tokens: list) -> tuple[list, bool]:
    """The token pass of engine 1.3, before parsing (no evaluation; see docs/grading-rules-1.3.md).

    - ``\\quad`` between two items is a separator, elsewhere spacing;
    - a lead-in phrase is dropped ("The least such $n$ is 12" -> 12, "All solutions are f(x) = x");
    - a qualifier after a stated value is dropped ("f(n) = kn for some constant k", "\\forall x",
      "g(x) = 2 for all x \\in \\mathbb{N}", a trailing ``c \\in \\mathbb{R}``);
    - a labelled extreme ("Maximum 60", "12 (minimum)") becomes a ``("label", "max"|"min")`` token
      before its value.

    Returns:
        (tokens, alternatives): ``alternatives`` is True when the top-level items are joined by
        "or" only (``65537 \\text{ or } 2^{16}+1``: possibly two forms of one value).
    """
    toks: list = []
    for i, t in enumerate(tokens):
        if t[:2] != ("op", "\\quad"):
            toks.append(t)
            continue
        nxt = next((u for u in tokens[i + 1:] if u[:2] != ("op", "\\quad")), None)
        prev = toks[-1] if toks else None
        if (prev is not None and nxt is not None and not _is_sep(prev) and not _is_sep(nxt)
                and nxt[0] != "word" and nxt[:2] != ("cmd", "\\forall") and prev[:2] not in (("op", "("), ("op", "{"))
                and not (nxt[0] == "op" and nxt[1] in _CLOSE | {"=", "\\\\", "&"})):
            toks.append(("op", ",", True))
    segs = _segments(toks)
    out: list = []
    alternatives = len(segs) > 1
    in_qualifier = False
    for k, (a, b) in enumerate(segs):
        seg = toks[a:b]
        sep = toks[b] if b < len(toks) else None
        if sep is not None and not (sep[0] in ("word", "id") and sep[1].lower() == "or"):
            alternatives = False
        if in_qualifier and _domain_only(seg):
            continue  # "for all x, y": the qualifier goes on
        in_qualifier = False
        if k > 0 and out and _domain_only(seg) and any(t[:2] == ("cmd", "\\in") for t in seg):
            continue  # ", c \in \mathbb{R}" after a stated answer
        label, seg = _extreme(seg)
        seg = _lead_in(seg)
        if _has_relation(seg):
            for j in range(len(seg)):
                if _qualifier_at(seg, j) and _has_relation(seg[:j]):
                    seg, in_qualifier = seg[:j], True
                    break
            if seg and seg[-1][:2] == ("op", ")"):  # "f(x) = cx (c \in \mathbb{R})"
                depth, j = 0, len(seg) - 1
                while j >= 0:
                    depth += seg[j][:2] == ("op", ")")
                    depth -= seg[j][:2] == ("op", "(")
                    if depth == 0:
                        break
                    j -= 1
                if j > 0 and _domain_only(seg[j:]) and _has_relation(seg[:j]):
                    seg = seg[:j]
        if out and sep is None and not seg:
            out.pop()  # the separator before a dropped last item
            continue
        if label is not None:
            out.append(("label", label, True))
        out.extend(seg)
        if sep is not None:
            out.append(sep)
    return out, alternatives


def _nodes(rows: tuple, limit: int) -> int:
    """Nodes in the entries of ``rows`` counted as trees (shared sub-trees count each time), stopping
    once past ``limit`` (so the count costs at most ``limit`` steps)."""
    count = 0
    stack = [x for r in rows for x in r]
    while stack and count <= limit:
        n = stack.pop()
        count += 1
        for child in n[1:]:
            if isinstance(child, tuple) and child:
                if isinstance(child[0], str):
                    stack.append(child)
                else:
                    stack.extend(c for c in child if isinstance(c, tuple) and c and isinstance(c[0], str))
    return count
