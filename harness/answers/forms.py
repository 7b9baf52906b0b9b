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
