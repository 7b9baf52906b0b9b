"""A small, bounded LaTeX / plain-text math reader: tokens -> our own AST (nested tuples).

Nothing here evaluates anything; :mod:`harness.answers.values` computes with the AST. Model
outputs are untrusted, so every step is bounded: callers cap the input length, :func:`max_nesting`
is a linear pre-scan of bracket depth (checked before any recursion), and the parser also counts
its own recursion depth.

Normalization happens at the TOKEN level (``\\left(`` is the token ``(`` after ``\\left`` is
dropped), never by deleting substrings, so ``\\left`` can never turn into ``\\le``.

AST nodes are tuples whose first element is the kind:

``("num", Fraction)``, ``("sym", name)``, ``("const", "pi"|"e"|"i"|"inf")``, ``("add", terms)``,
``("neg", x)``, ``("mul", factors)``, ``("div", a, b)``, ``("pow", a, b)``, ``("sqrt", x, n|None)``,
``("fact", x)``, ``("func", name, x)``, ``("log", base, x)``, ``("binom", n, k)``, ``("abs", x)``,
``("floor"|"ceil", x)``, ``("deg", x)`` (a ``^\\circ``), ``("pct", x)``, ``("pm", a, b)`` (a ± b),
``("seq", open, close, items)`` (tuple / point / interval), ``("set", items)``,
``("matrix", env, rows)``, ``("union", parts)``, ``("rel", ops, parts)``, ``("ratio", parts)``,
``("list", items)`` (top-level answers), ``("text", str)``, ``("choice", letter)``, ``("dfact", x)``
(``x!!``), ``("sum"|"prod", index, lo, hi, body)`` (``\\sum_{k=lo}^{hi} body``),
``("base", digits, base)``, ``("over", accent, x)``, ``("opaque", str)``.
"""

from __future__ import annotations

from fractions import Fraction

from harness.answers.lexer import (  # noqa: F401  (re-exported)
    ACCENTS,
    CLOSE,
    CONST_CMDS,
    FUNCS,
    GREEK,
    LETTER_UNITS,
    MAX_AST_DEPTH,
    MAX_NESTING,
    MAX_PARSE_DEPTH,
    MAX_TOKENS,
    OPEN,
    RELOPS,
    SEPARATOR_WORDS,
    SHORT_UNITS,
    TRIG,
    VALUE_WORDS,
    ParseError,
    Token,
    TooLarge,
    ascii_digits,
    fuse_thousands,
    max_nesting,
    norm_key,
    tokenize,
)

# ---------------------------------------------------------------------------------------------
# parser


def _num(text: str) -> tuple:
    return ("num", Fraction(text))


ZERO = ("num", Fraction(0))
ONE = ("num", Fraction(1))


class Parser:
    """Recursive descent over a token list. Use :func:`parse_tokens`."""

    def __init__(self, tokens: list[Token]) -> None:
        self.t = list(tokens)
        self.p = 0
        self.depth = 0
        self.abs_depth = 0

    # -- helpers
    def peek(self, k: int = 0) -> Token | None:
        j = self.p + k
        return self.t[j] if j < len(self.t) else None

    def cur(self) -> Token:
        """The current token, where the caller has checked there is one (else a ParseError)."""
        tok = self.peek()
        if tok is None:
            raise ParseError("unexpected end")
        return tok

    def at(self, kind: str, value: str | None = None, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok is not None and tok[0] == kind and (value is None or tok[1] == value)

    def at_op(self, *values: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] in ("op", "cmd") and tok[1] in values

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise ParseError("unexpected end")
        self.p += 1
        return tok

    def expect_op(self, value: str) -> None:
        if not self.at_op(value):
            raise ParseError(f"expected {value}")
        self.p += 1

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_PARSE_DEPTH:
            raise TooLarge("expression nested too deeply")

    def leave(self) -> None:
        self.depth -= 1

    def done(self) -> bool:
        return self.p >= len(self.t)

    # -- classification
    def is_closer(self, tok: Token | None) -> bool:
        return tok is not None and (
            (tok[0] == "op" and (tok[1] in CLOSE or tok[1] in ("\\\\", "&"))) or tok[0] == "end")

    def is_separator(self, tok: Token | None) -> bool:
        if tok is None:
            return False
        if tok[0] == "op" and tok[1] in (",", ";"):
            return True
        return tok[0] in ("word", "id") and tok[1].lower() in SEPARATOR_WORDS

    def is_wordy(self, tok: Token | None) -> bool:
        """A token that is a word (unit, text), not a math symbol."""
        if tok is None:
            return False
        if tok[0] == "word":
            return True
        if tok[0] != "id" or len(tok[1]) == 1:
            return False
        w = tok[1]
        lw = w.lower()
        if lw in FUNCS or w in GREEK or lw in ("pi", "inf", "infty", "oo", "infinity"):
            return False
        return lw in SHORT_UNITS or len(w) >= 3

    def starts_atom(self, tok: Token | None) -> bool:
        if tok is None:
            return False
        k, v = tok[0], tok[1]
        if k == "num" or k == "begin":
            return True
        if k == "id":
            return not self.is_wordy(tok) and v.lower() not in SEPARATOR_WORDS
        if k == "word":
            return False
        if k == "cmd":
            return v not in RELOPS and v not in ("\\pm", "\\mp", "\\cup", "\\cap", "\\setminus",
                                                   "\\circ", "\\%", "\\cdots", "\\ldots",
                                                   "\\dots", "\\vdots")
        if k == "op":
            if v == "|":
                return self.abs_depth == 0
            return v in ("(", "\\{", "\\langle", "\\lfloor", "\\lceil", "{")
        return False

    # -- grammar
    def parse_answer(self) -> tuple:
        items = self.parse_list(top=True)
        if not self.done():
            raise ParseError("trailing tokens")
        if not items:
            raise ParseError("empty")
        return items[0] if len(items) == 1 else ("list", tuple(items))

    def parse_list(self, top: bool = False) -> list[tuple]:
        items: list[tuple] = []
        while True:
            while self.is_separator(self.peek()):
                self.p += 1
            tok = self.peek()
            if tok is None or self.is_closer(tok):
                return items
            items.append(self.parse_item())
            tok = self.peek()
            if tok is None or self.is_closer(tok):
                return items
            if not self.is_separator(tok):
                raise ParseError(f"unexpected {tok[1]!r}")

    def parse_item(self) -> tuple:
        if self.at("label"):  # "Maximum 60" (see harness.answers.forms.rewrite)
            label = self.take()[1]
            return ("lab", label, self.parse_item())
        start = self.p
        while self.at_op("=", "\\approx") or self.at("op", ":"):
            self.p += 1  # "= 5", "\approx 8.24"
        try:
            node = self.parse_relation()
        except TooLarge:
            raise  # past a size limit: not text, too large to decide
        except ParseError:
            self.p = start
            node = None
        while node is not None and self.at("op", "."):
            self.p += 1  # a sentence's full stop
        if node is None or not (self.done() or self.is_separator(self.peek())
                                or self.is_closer(self.peek())):
            # not math: a text item running to the next separator
            self.p = start
            return self.text_item()
        return node

    def text_item(self) -> tuple:
        parts: list[str] = []
        depth = 0
        while not self.done():
            tok = self.cur()
            if depth == 0 and (self.is_separator(tok) or self.is_closer(tok)):
                break
            if tok[0] == "op" and tok[1] in OPEN:
                depth += 1
            elif tok[0] == "op" and tok[1] in CLOSE:
                depth -= 1
            parts.append(tok[1])
            self.p += 1
        while parts and parts[-1] == ".":
            parts.pop()
        if not parts:
            raise ParseError("empty item")
        return ("text", " ".join(parts).lower())

    def parse_relation(self) -> tuple:
        parts = [self.parse_ratio()]
        ops: list[str] = []
        while True:
            tok = self.peek()
            if tok is not None and tok[0] in ("op", "cmd") and tok[1] in RELOPS:
                ops.append(tok[1])
                self.p += 1
                parts.append(self.parse_ratio())
            else:
                break
        if not ops:
            return parts[0]
        return ("rel", tuple(ops), tuple(parts))

    def parse_ratio(self) -> tuple:
        """``a : b : c`` (a ratio; also the side of a relation, ``V_1:V_2 = 11:21``)."""
        parts = [self.parse_union()]
        while self.at("op", ":"):
            self.p += 1
            parts.append(self.parse_union())
        return parts[0] if len(parts) == 1 else ("ratio", tuple(parts))

    def parse_union(self) -> tuple:
        first = self.parse_unit_expr()
        if not self.at_op("\\cup", "\\cap", "\\setminus"):
            return first
        parts = [first]
        op = self.cur()[1]
        while self.at_op(op):
            self.p += 1
            parts.append(self.parse_unit_expr())
        if self.at_op("\\cup", "\\cap", "\\setminus"):
            raise ParseError("mixed set operations")
        kind = {"\\cup": "union", "\\cap": "intersect", "\\setminus": "setminus"}[op]
        return (kind, tuple(parts))

    def parse_unit_expr(self) -> tuple:
        """An expression, then an optional unit annotation (dropped) such as ``\\text{ cm}^2``."""
        e = self.parse_sum()
        tok = self.peek()
        if tok is None or tok[0] not in ("word", "id") or not self._unit_start(tok):
            if self.at("op", "%"):
                self.p += 1
                return ("pct", e)
            return e
        words: list[str] = []
        while True:
            tok = self.peek()
            if tok is None:
                break
            if tok[0] in ("word", "id") and tok[1].lower() not in SEPARATOR_WORDS:
                words.append(tok[1])
                self.p += 1
            elif tok[0] == "op" and tok[1] in ("^",) and self.at("num", None, 1):
                self.p += 2
            elif tok[0] == "op" and tok[1] == "^" and self.at("op", "{", 1):
                # ^{2}
                if self.at("num", None, 2) and self.at("op", "}", 3):
                    self.p += 4
                else:
                    break
            elif tok[0] == "op" and tok[1] in ("/", ".", "-") and self.at("word", None, 1) or (
                    tok[0] == "op" and tok[1] == "/" and self.at("id", None, 1)):
                self.p += 1
            else:
                break
        lows = [w.lower().rstrip(".") for w in words]
        if lows and all(w in ("percent", "%") for w in lows):
            return ("pct", e)
        for w, lw in zip(words, lows):
            if lw in VALUE_WORDS or w.lower() in VALUE_WORDS:
                raise ParseError("value word after number")
            if len(lw) == 1 and w not in LETTER_UNITS:
                raise ParseError("letter after number")
            if any(ch.isdigit() for ch in lw):
                raise ParseError("digits in unit")
        return e

    def _unit_start(self, tok: Token) -> bool:
        if tok[1].lower() in SEPARATOR_WORDS:
            return False
        if tok[0] == "word":
            return tok[1] in LETTER_UNITS or len(tok[1]) > 1
        return self.is_wordy(tok)

    def parse_sum(self) -> tuple:
        self.enter()
        plain: list[tuple] = []
        pm: list[tuple] = []
        sign = "+"
        if self.at_op("+", "-", "\\pm", "\\mp"):
            sign = self.take()[1]
        while True:
            term = self.parse_term()
            if sign == "+":
                plain.append(term)
            elif sign == "-":
                plain.append(("neg", term))
            elif sign == "\\pm":
                pm.append(term)
            else:
                pm.append(("neg", term))
            if self.at_op("+", "-", "\\pm", "\\mp"):
                sign = self.take()[1]
                continue
            break
        self.leave()
        base = plain[0] if len(plain) == 1 else ("add", tuple(plain)) if plain else None
        if pm:
            off = pm[0] if len(pm) == 1 else ("add", tuple(pm))
            return ("pm", base if base is not None else ZERO, off)
        if base is None:  # not reached: the loop above parses at least one term
            raise ParseError("empty sum")
        return base

    def parse_term(self) -> tuple:
        self.enter()
        factors = [self.parse_unary()]
        while True:
            tok = self.peek()
            if tok is None:
                break
            if tok[0] == "op" and tok[1] == "*":
                self.p += 1
                factors.append(self.parse_unary())
            elif tok[0] == "op" and tok[1] == "/":
                self.p += 1
                den = self.parse_unary()
                num = factors[0] if len(factors) == 1 else ("mul", tuple(factors))
                factors = [("div", num, den)]
            elif self.starts_atom(tok):
                if tok[0] == "num" and self.p > 0 and self.t[self.p - 1][0] == "num":
                    raise ParseError("two numbers side by side")  # "2 100" is not 2 * 100
                if (len(factors) == 1 and factors[0][0] == "num" and tok[0] == "cmd"
                        and tok[1] == "\\frac" and factors[0][1].denominator == 1):
                    f = self.parse_postfix()
                    if (f[0] == "div" and f[1][0] == "num" and f[2][0] == "num"
                            and f[1][1].denominator == 1 and f[2][1].denominator == 1
                            and f[2][1] != 0 and 0 <= f[1][1] < f[2][1]):
                        factors = [("num", factors[0][1] + f[1][1] / f[2][1])]  # 4\frac23 = 14/3
                    else:
                        factors.append(f)
                    continue
                factors.append(self.parse_postfix())
            else:
                break
        self.leave()
        return factors[0] if len(factors) == 1 else ("mul", tuple(factors))

    def parse_unary(self) -> tuple:
        self.enter()
        try:
            if self.at_op("-"):
                self.p += 1
                return ("neg", self.parse_unary())
            if self.at_op("+"):
                self.p += 1
                return self.parse_unary()
            if self.at_op("\\pm", "\\mp"):
                self.p += 1
                return ("pm", ZERO, self.parse_unary())
            return self.parse_postfix()
        finally:
            self.leave()

    def parse_postfix(self) -> tuple:
        a = self.parse_atom()
        while True:
            tok = self.peek()
            if tok is None:
                return a
            k, v = tok[0], tok[1]
            if k == "op" and v == "^":
                self.p += 1
                e = self.parse_script()
                a = ("deg", a) if e == ("deg",) else ("pow", a, e)
            elif k == "op" and v == "!" and not self.at("op", "=", 1):
                self.p += 1
                if self.at("op", "!") and not self.cur()[2]:  # "7!!": the double factorial (MATH's use)
                    self.p += 1
                    a = ("dfact", a)
                else:
                    a = ("fact", a)
            elif k == "op" and v == "_":
                self.p += 1
                sub = self.parse_script()
                if a[0] == "sym" and sub[0] in ("num", "sym"):
                    a = ("sym", a[1] + "_" + (str(sub[1]) if sub[0] == "num" else sub[1]))
                else:
                    a = ("sub", a, sub)
            elif k == "op" and v == "%":
                self.p += 1
                a = ("pct", a)
            elif k == "op" and v == "°" or k == "cmd" and v == "\\circ":
                self.p += 1
                a = ("deg", a)
            elif k == "op" and v == "'":
                self.p += 1
                a = ("prime", a)
            else:
                return a

    def parse_script(self) -> tuple:
        """The argument of ^ or _: a group, a whole number, one letter, or a command atom."""
        tok = self.peek()
        if tok is None:
            raise ParseError("missing exponent")
        k, v = tok[0], tok[1]
        if k == "op" and v == "{":
            self.p += 1
            if self.at("id") and self.at("op", "}", 1):  # x_{AB}, S_{MBCN}: a name, not a product
                name = self.cur()[1]
                self.p += 2
                return ("sym", name)
            if self.at("cmd", "\\circ") and self.at("op", "}", 1):
                self.p += 2
                return ("deg",)
            if self.at("op", "°") and self.at("op", "}", 1):
                self.p += 2
                return ("deg",)
            inner = self.parse_relation()
            self.expect_op("}")
            return inner
        if k == "cmd" and v == "\\circ" or k == "op" and v == "°":
            self.p += 1
            return ("deg",)
        if k == "num":
            self.p += 1
            return _num(v)
        if k in ("id", "word"):
            return self.single_letter()
        if k == "op" and v in ("-", "+"):
            self.p += 1
            inner = self.parse_script()
            return ("neg", inner) if v == "-" else inner
        return self.parse_atom()

    def single_letter(self) -> tuple:
        tok = self.take()
        v = tok[1]
        if len(v) > 1:
            self.p -= 1
            self.t[self.p] = (tok[0], v[1:], False)
            self.t.insert(self.p, (tok[0], v[0], tok[2]))
            self.p += 1
            v = v[0]
        return _letter(v)

    def parse_arg(self) -> tuple:
        """A macro argument: {group}, one digit, one letter, or one command atom."""
        tok = self.peek()
        if tok is None:
            raise ParseError("missing argument")
        k, v = tok[0], tok[1]
        if k == "op" and v == "{":
            self.p += 1
            items = self.parse_list()
            self.expect_op("}")
            if len(items) != 1:
                raise ParseError("list in argument")
            return items[0]
        if k == "num":
            if len(v) > 1:
                self.t[self.p] = ("num", v[1:], False)
                return _num(v[0]) if v[0] != "." else _bad()
            self.p += 1
            return _num(v)
        if k in ("id", "word"):
            return self.single_letter()
        return self.parse_atom()

    def parse_atom(self) -> tuple:
        self.enter()
        try:
            return self._atom()
        finally:
            self.leave()

    def _atom(self) -> tuple:
        tok = self.take()
        k, v = tok[0], tok[1]
        if k == "num":
            return _num(v)
        if k == "id":
            lw = v.lower()
            if lw in FUNCS:
                return self.parse_function(lw)
            if lw == "pi":
                return ("const", "pi")
            if lw in ("inf", "infty", "infinity", "oo"):
                return ("const", "inf")
            if v in GREEK:
                return ("sym", v)
            if self.is_wordy(tok):
                raise ParseError("word in expression")
            if len(v) > 1:  # "xy": x times y
                self.t.insert(self.p, ("id", v[1:], False))
            return _letter(v[0])
        if k == "word":
            if len(v) == 1:
                return ("sym", v)
            raise ParseError("word in expression")
        if k == "begin":
            return self.parse_env(v)
        if k == "op":
            if v in ("(", "[", "\\langle"):
                return self.parse_group(v)
            if v == "\\{":
                items = self.parse_list()
                if not self.at("op", "\\}"):
                    raise ParseError("unclosed set")
                self.p += 1
                return ("set", tuple(items))
            if v == "{":
                items = self.parse_list()
                self.expect_op("}")
                if len(items) == 1:
                    return items[0]
                return ("set", tuple(items))  # "{1, 2, 3}": set braces written without the backslash
            if v == "|":
                self.abs_depth += 1
                inner = self.parse_sum()
                self.abs_depth -= 1
                self.expect_op("|")
                return ("abs", inner)
            if v in ("\\lfloor", "\\lceil"):
                inner = self.parse_sum()
                self.expect_op("\\rfloor" if v == "\\lfloor" else "\\rceil")
                return ("floor" if v == "\\lfloor" else "ceil", inner)
            raise ParseError(f"unexpected {v!r}")
        if k == "cmd":
            if v in CONST_CMDS:
                return CONST_CMDS[v]
            if v == "\\frac":
                a = self.parse_arg()
                b = self.parse_arg()
                return ("div", a, b)
            if v == "\\binom":
                return ("binom", self.parse_arg(), self.parse_arg())
            if v in ("\\sum", "\\prod"):
                return self.parse_big_operator(v)
            if v == "\\sqrt":
                n = None
                if self.at("op", "["):
                    self.p += 1
                    n = self.parse_sum()
                    self.expect_op("]")
                return ("sqrt", self.parse_arg(), n)
            name = v[1:]
            if name in FUNCS or name in ("arccot", "arcsec", "arccsc"):
                return self.parse_function(name)
            if name in GREEK or name in ("epsilon", "phi"):
                return ("sym", name)
            if v in ACCENTS:
                return ("over", name, self.parse_arg())
            if v in ("\\emptyset", "\\varnothing"):
                return ("set", ())
            if v in ("\\cdots", "\\ldots", "\\dots"):
                return ("opaque", "...")
            if v in ("\\frac", "\\over"):
                raise ParseError("bad frac")
            return ("opaque", v)
        raise ParseError(f"unexpected token {v!r}")

    def parse_big_operator(self, cmd: str) -> tuple:
        """``\\sum_{k=1}^{n} f`` / ``\\prod``: ``(kind, index, lo, hi, f)``, the summand read like a
        function's argument (``\\sum_{k=1}^{3} 2k + 1`` is ``(2 + 4 + 6) + 1``). Without an index and
        both bounds it stays an opaque symbol, as before."""
        start = self.p
        var = lo = hi = None
        try:
            for _ in range(2):
                if var is None and self.at("op", "_"):
                    self.p += 1
                    sub = self.parse_script()
                    if sub[0] != "rel" or sub[1] != ("=",) or len(sub[2]) != 2:
                        break
                    var, lo = _index_name(sub[2][0]), sub[2][1]
                elif hi is None and self.at("op", "^"):
                    self.p += 1
                    hi = self.parse_script()
            if var is not None and lo is not None and hi is not None:
                body = self.parse_function_arg()
                if var in ("i", "e"):  # the index shadows the constant
                    body = _rebind(body, var)
                return ("sum" if cmd == "\\sum" else "prod", var, lo, hi, body)
        except TooLarge:
            raise
        except ParseError:
            pass
        self.p = start
        return ("opaque", cmd)

    def parse_function(self, name: str) -> tuple:
        power = None
        base = None
        if name == "sqrt":
            return ("sqrt", self.parse_function_arg(), None)
        if self.at("op", "_") and name in ("log", "lg"):
            self.p += 1
            base = self.parse_script()
        if self.at("op", "^"):
            self.p += 1
            power = self.parse_script()
        arg = self.parse_function_arg()
        if name == "lg":
            name = "log"
        if power is not None and power in (("neg", ONE),) and name in TRIG:
            return ("func", "arc" + name, arg)
        node = ("log", base, arg) if base is not None else ("func", name, arg)
        return ("pow", node, power) if power is not None else node

    def parse_function_arg(self) -> tuple:
        tok = self.peek()
        if tok is None:
            raise ParseError("function without argument")
        if tok[0] == "op" and tok[1] in ("(", "{"):
            return self.parse_postfix()
        # \sin 3x, \cos 13^\circ: a product of atoms, stopping at another function or sign
        factors = [self.parse_postfix()]
        while self.starts_atom(self.peek()) and not self._is_function(self.peek()):
            if self.at("op", "("):
                break
            factors.append(self.parse_postfix())
        return factors[0] if len(factors) == 1 else ("mul", tuple(factors))

    def _is_function(self, tok: Token | None) -> bool:
        if tok is None:
            return False
        if tok[0] == "cmd":
            return tok[1][1:] in FUNCS or tok[1] in ("\\frac", "\\sqrt", "\\log")
        if tok[0] == "id":
            return tok[1].lower() in FUNCS
        return False

    def parse_group(self, opener: str) -> tuple:
        items = self.parse_list()
        tok = self.peek()
        if tok is None or tok[0] != "op" or tok[1] not in CLOSE:
            raise ParseError("unclosed group")
        self.p += 1
        close = tok[1]
        if opener == "\\langle":
            opener, close = ("(", ")") if close == "\\rangle" else (opener, close)
        if len(items) == 1 and opener == "(" and close == ")":
            return items[0]
        if len(items) == 1 and opener == "[" and close == "]":
            return items[0]
        if not items:
            raise ParseError("empty group")
        return ("seq", opener, close, tuple(items))

    def parse_env(self, env: str) -> tuple:
        kind = {"pmatrix": "matrix", "bmatrix": "matrix", "matrix": "matrix", "Bmatrix": "matrix",
                "smallmatrix": "matrix", "array": "matrix", "vmatrix": "det", "Vmatrix": "norm"}
        if env in LINE_ENVS or env == "cases":
            return self.parse_lines(env)
        if env not in kind:
            raise ParseError(f"environment {env}")
        if env == "array" and self.at("op", "{"):
            depth = 0
            while not self.done():
                tok = self.take()
                if tok[:2] == ("op", "{"):
                    depth += 1
                elif tok[:2] == ("op", "}"):
                    depth -= 1
                    if depth == 0:
                        break
        rows: list[tuple] = []
        row: list[tuple] = []
        while True:
            if self.done():
                raise ParseError("unclosed matrix")
            if self.at("end"):
                self.p += 1
                break
            if self.at("op", "&"):
                self.p += 1
                continue
            if self.at("op", "\\\\"):
                self.p += 1
                if row:
                    rows.append(tuple(row))
                row = []
                continue
            row.append(self.parse_relation())
            if not (self.at("op", "&") or self.at("op", "\\\\") or self.at("end")):
                raise ParseError("bad matrix cell")
        if row:
            rows.append(tuple(row))
        if not rows or len({len(r) for r in rows}) != 1:
            raise ParseError("ragged matrix")
        if env == "array" and len(rows[0]) == 1 and len(rows) > 1 and any(r[0][0] == "rel" for r in rows):
            return ("list", tuple(r[0] for r in rows))  # one equation a row: a list of answers
        return ("matrix", kind[env], tuple(rows))

    def parse_lines(self, env: str) -> tuple:
        """``aligned``/``gathered``/... rows are a list of answers (``&`` is alignment only);
        ``cases`` rows are ``("cases", ((value, condition | None), ...))``."""
        rows: list[list[Token]] = [[]]
        while True:
            if self.done():
                raise ParseError("unclosed environment")
            tok = self.take()
            if tok[0] == "end":
                break
            if tok[:2] == ("op", "\\\\"):
                rows.append([])
            elif tok[0] == "begin":
                raise ParseError("nested environment")
            else:
                rows[-1].append(tok)
        rows = [r for r in rows if r]
        if not rows:
            raise ParseError("empty environment")
        if env != "cases":
            items = [Parser([t for t in r if t[:2] != ("op", "&")]).parse_answer() for r in rows]
            return items[0] if len(items) == 1 else ("list", tuple(items))
        out: list[tuple[tuple, tuple | None]] = []
        for r in rows:
            amp = next((i for i, t in enumerate(r) if t[:2] == ("op", "&")), len(r))
            value = Parser(r[:amp]).parse_answer()
            cond = [t for t in r[amp + 1:] if t[:2] != ("op", "&")]
            while cond and (cond[0][0] == "word" and cond[0][1].lower() in ("if", "for", "when")
                            or cond[0][:2] == ("op", ",")):
                cond = cond[1:]
            if cond and all(t[0] == "word" for t in cond):
                out.append((value, ("text", " ".join(t[1].lower() for t in cond))))  # "otherwise"
            elif cond:
                try:
                    out.append((value, Parser(cond).parse_answer()))
                except ParseError:  # "x \text{ is rational}"
                    out.append((value, ("text", " ".join(str(t[1]).lower() for t in cond))))
            else:
                out.append((value, None))
        return ("cases", tuple(out))


#: Environments whose rows are separate answers (``\\begin{aligned} f(x) &= x \\\\ f(x) &= -x \\end{aligned}``).
LINE_ENVS = {"aligned", "align", "gathered", "gather", "split", "eqnarray", "alignat", "flalign"}


def _letter(v: str) -> tuple:
    if v == "i":
        return ("const", "i")
    if v == "e":
        return ("const", "e")
    return ("sym", v)


def _bad() -> tuple:
    raise ParseError("bad argument")


def _index_name(node: tuple) -> str | None:
    """The name of a sum's index: a symbol, or ``i``/``e`` (read as constants elsewhere)."""
    if node[0] == "sym":
        return node[1]
    if node[0] == "const" and node[1] in ("i", "e"):
        return node[1]
    return None


def _rebind(node: tuple, name: str) -> tuple:
    """``node`` with the constant ``name`` (``i`` or ``e``) read as the symbol ``name``."""
    if node == ("const", name):
        return ("sym", name)
    out: list = [node[0]]
    for child in node[1:]:
        if isinstance(child, tuple) and child and isinstance(child[0], str):
            out.append(_rebind(child, name))
        elif isinstance(child, tuple):
            out.append(tuple(_rebind(c, name) if isinstance(c, tuple) and c and isinstance(c[0], str) else c
                             for c in child))
        else:
            out.append(child)
    return tuple(out)




def choice_letter(tokens: list[Token]) -> str | None:
    """``C``, ``(C)``, ``\\text{(C)}``, ``\\textbf{(C)}``: the multiple-choice letter, or None."""
    vals = [t for t in tokens if t[0] != "sp"]
    while vals and vals[-1][:2] == ("op", "."):
        vals.pop()
    if len(vals) == 3 and vals[0][:2] == ("op", "(") and vals[2][:2] == ("op", ")"):
        vals = [vals[1]]
    if len(vals) == 1 and vals[0][0] in ("id", "word") and len(vals[0][1]) == 1 \
            and "A" <= vals[0][1] <= "Z":
        return vals[0][1]
    return None


def parse_tokens(tokens: list[Token]) -> tuple:
    """Parse a token list (from :func:`tokenize` + :func:`fuse_thousands`) into an AST.

    Raises:
        ParseError: the tokens are not an answer this reader understands.
    """
    if len(tokens) > MAX_TOKENS:
        raise TooLarge("too many tokens")
    letter = choice_letter(tokens)
    if letter is not None:
        return ("choice", letter)
    try:
        node = Parser(tokens).parse_answer()
    except RecursionError as exc:  # defensive: depth is bounded above, this should not happen
        raise TooLarge("recursion") from exc
    if ast_depth(node) > MAX_AST_DEPTH:
        raise TooLarge("expression nested too deeply")
    return node


def ast_depth(node: tuple) -> int:
    """Depth of an AST, computed without recursion."""
    best = 0
    stack = [(node, 1)]
    while stack:
        n, d = stack.pop()
        best = max(best, d)
        for child in n[1:]:
            if isinstance(child, tuple) and child:
                if isinstance(child[0], str):
                    stack.append((child, d + 1))
                else:
                    stack.extend((c, d + 1) for c in child
                                 if isinstance(c, tuple) and c and isinstance(c[0], str))
    return best
