"""Tokens for the answer reader (:mod:`harness.answers.latex`): vocabulary, a linear nesting
pre-scan, the tokenizer and thousands-separator joining.

Normalization is done on TOKENS, never by deleting substrings: ``\\left(`` becomes the token ``(``
because the token ``\\left`` is dropped, so ``\\left`` can never turn into ``\\le``.
"""

from __future__ import annotations

import re
import unicodedata

Token = tuple  # (kind, value, spaced_before)

MAX_NESTING = 40  # bracket depth accepted by the parser (pre-scanned, linear)
MAX_TOKENS = 1500
MAX_PARSE_DEPTH = 200  # recursion guard inside the parser (about 4 levels per bracket)
MAX_AST_DEPTH = 100  # deepest AST handed to the (recursive) evaluators


class ParseError(ValueError):
    """The text is not an answer this reader understands."""


class TooLarge(ParseError):
    """The text is past a size limit of the reader (tokens, nesting): "too large to decide", which
    the comparison reports as ``timeout``, never as a verdict."""


# ---------------------------------------------------------------------------------------------
# vocabulary

ALIASES = {
    "\\dfrac": "\\frac", "\\tfrac": "\\frac", "\\cfrac": "\\frac",
    "\\dbinom": "\\binom", "\\tbinom": "\\binom",
    "\\leq": "\\le", "\\leqslant": "\\le", "\\geq": "\\ge", "\\geqslant": "\\ge",
    "\\neq": "\\ne", "\\lt": "<", "\\gt": ">",
    "\\lbrace": "\\{", "\\rbrace": "\\}", "\\lvert": "|", "\\rvert": "|", "\\vert": "|",
    "\\lbrack": "[", "\\rbrack": "]", "\\mid": "|",
    "\\times": "*", "\\cdot": "*", "\\ast": "*", "\\div": "/",
    "\\land": "and", "\\wedge": "and", "\\lor": "or", "\\vee": "or",
    "\\varepsilon": "\\epsilon", "\\vartheta": "\\theta", "\\varphi": "\\phi",
    "\\arcsec": "\\arcsec", "\\tg": "\\tan",
    "\\degree": "°", "\\infin": "\\infty",
    "\\colon": ":",
}
# Commands dropped as tokens (sizing and spacing); \, \! \; are kept as "sp" for thousands.
DROP = {
    "\\left", "\\right", "\\big", "\\Big", "\\bigg", "\\Bigg", "\\bigl", "\\bigr", "\\Bigl",
    "\\Bigr", "\\biggl", "\\biggr", "\\Biggl", "\\Biggr", "\\middle", "\\displaystyle",
    "\\textstyle", "\\scriptstyle", "\\limits", "\\nolimits", "\\enspace",
    "\\thinspace", "\\negthinspace", "\\hfill", "\\hspace", "\\$", "\\boxed", "\\fbox",
    "\\mathbf", "\\boldsymbol", "\\bm", "\\mathit", "\\mathsf", "\\pmb", "\\displaylines",
}
SIZE_DROPPERS = {"\\left", "\\right", "\\big", "\\Big", "\\bigg", "\\Bigg", "\\bigl", "\\bigr",
                 "\\Bigl", "\\Bigr", "\\biggl", "\\biggr", "\\Biggl", "\\Biggr", "\\middle"}
TEXT_CMDS = {"\\text", "\\textbf", "\\textit", "\\textrm", "\\textnormal", "\\mbox", "\\mathrm",
             "\\textsf", "\\texttt", "\\emph", "\\operatorname", "\\textup", "\\hbox"}
ARG_DROP = {"\\phantom", "\\hphantom", "\\vphantom", "\\label", "\\tag"}
SPACING = {"\\,", "\\!", "\\;", "\\:", "\\ ", "\\>", "~"}
# \quad and \qquad: wide spaces that often join list items (``(1,2) \quad (2,1)``); kept as the token
# ``("op", "\\quad")`` for :func:`harness.answers.forms.rewrite`, which makes it a separator or drops it.
QUADS = {"\\quad", "\\qquad"}
# Display-math delimiters ``\[ \]`` and ``\( \)`` are math mode, never brackets: dropped like ``$``.
DISPLAY_DELIMS = {"\\[", "\\]", "\\(", "\\)"}
OPEN = {"(", "[", "{", "\\{", "\\langle", "\\lfloor", "\\lceil"}
CLOSE = {")", "]", "}", "\\}", "\\rangle", "\\rfloor", "\\rceil"}
RELOPS = {"=", "<", ">", "\\le", "\\ge", "\\ne", "\\approx", "\\in", "\\equiv", "\\sim",
          "\\to", "\\rightarrow", "\\Rightarrow", "\\implies", "\\subset", "\\subseteq",
          "\\notin", "\\cong", "\\simeq", "\\propto", "\\ll", "\\gg"}
TRIG = {"sin", "cos", "tan", "cot", "sec", "csc"}
FUNCS = TRIG | {"arcsin", "arccos", "arctan", "arccot", "arcsec", "arccsc", "sinh", "cosh",
                "tanh", "coth", "ln", "log", "exp", "lg", "sgn", "det", "gcd", "lcm", "max",
                "min", "deg", "arg", "sqrt"}
GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
         "lambda", "mu", "nu", "xi", "omicron", "rho", "sigma", "tau", "upsilon", "phi", "chi",
         "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Upsilon", "Phi",
         "Psi", "Omega", "ell"}
ACCENTS = {"\\overline", "\\underline", "\\hat", "\\widehat", "\\bar", "\\vec", "\\tilde",
           "\\widetilde", "\\dot", "\\ddot", "\\overrightarrow", "\\overleftrightarrow",
           "\\mathbb", "\\mathcal", "\\mathfrak", "\\mathscr", "\\overarc", "\\arc", "\\stackrel"}
CONST_CMDS = {"\\pi": ("const", "pi"), "\\infty": ("const", "inf"), "\\imath": ("const", "i")}
# Words that end a number's unit annotation in a way that changes its value or meaning:
# "5 million" is not 5, "9 a.m." is not "9 p.m.".
VALUE_WORDS = {
    "million", "millions", "billion", "billions", "thousand", "thousands", "hundred",
    "hundreds", "trillion", "trillions", "dozen", "dozens", "half", "halves", "third", "thirds",
    "quarter", "quarters", "fourth", "fourths", "fifth", "fifths", "tenth", "tenths",
    "hundredth", "hundredths", "squared", "cubed", "am", "pm", "a.m.", "p.m.", "bc", "bce", "ad",
    "times", "less", "more", "than", "minus", "plus", "over", "not", "no", "of", "to", "pi",
    "percent", "percentage", "negative", "positive", "undefined", "infinity", "inf", "none",
    "all", "any", "every", "odd", "even", "ten", "one", "two", "three", "four", "five", "six",
    "seven", "eight", "nine", "zero", "at", "and", "or", "root", "roots", "power", "factorial",
    "i", "x", "y", "z", "n", "k", "e", "infinitely", "many", "only", "except", "between",
    "from", "if", "is", "are", "the", "a", "an", "with", "without", "by", "per", "base",
    "mod", "modulo", "remainder", "degree", "th", "st", "nd", "rd",
}
# Two-letter runs read as words (units) rather than a product of two symbols.
SHORT_UNITS = {"cm", "mm", "km", "ft", "in", "yd", "mi", "kg", "mg", "lb", "oz", "ml", "hr",
               "sq", "cu", "pm", "am", "ms", "mph", "kph", "min", "sec", "hrs", "lbs", "mins",
               "yds", "gal", "qt", "pt", "deg", "rad", "cc", "dm", "or", "cents"}
# Single letters that, inside \text{...} after a number, are units ("5\text{ m}").
LETTER_UNITS = {"m", "g", "s", "h", "l", "L", "K", "J", "N", "W", "V", "A"}
SEPARATOR_WORDS = {"and", "or"}

UNICODE = {
    "\u2212": "-", "\u2013": "-", "\u00d7": "*", "\u22c5": "*", "\u00b7": "*", "\u00f7": "/",
    "\u221a": "\\sqrt ", "\u03c0": "\\pi ", "\u221e": "\\infty ", "\u2264": "\\le ",
    "\u2265": "\\ge ", "\u2260": "\\ne ", "\u00b1": "\\pm ", "\u2213": "\\mp ", "\u00b0": "°",
    "\u222a": "\\cup ", "\u2229": "\\cap ", "\u2248": "\\approx ", "\u2208": "\\in ",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2032": "'", "\uff0c": ",",
}

_NUM_RE = re.compile(r"\d+(?:\.\d+)?|\.\d+")
# A repeating decimal: integer part, non-repeating digits, then \overline{digits} / \bar{digits}
# (or a single digit without braces).
_REPEAT_RE = re.compile(r"(\d*)\.(\d*)\\(?:overline|bar)\s*(?:\{\s*(\d{1,30})\s*\}|(\d))")


def _repeating(whole: str, fixed: str, rep: str) -> str:
    """``whole.fixed(rep)(rep)...`` as an exact fraction string ``p/q``."""
    from fractions import Fraction

    k, m = len(fixed), len(rep)
    value = Fraction(int(whole or "0")) + Fraction(int(fixed or "0"), 10**k) + Fraction(int(rep), 10**k * (10**m - 1))
    return f"{value.numerator}/{value.denominator}"
_DIGITS = frozenset("0123456789")
_TSEP_RE = re.compile(r"\{\s?,\s?\}")
_ASCII_REL = {"<": "\\le", ">": "\\ge", "!": "\\ne"}
_GLUED_RE = re.compile(r"(\\q?quad)(?=[A-Za-z])")
_WORD_RE = re.compile(r"[A-Za-z](?:\.[A-Za-z])+\.?|[A-Za-z]+")
_CMD_RE = re.compile(r"\\([A-Za-z]+)\*?")


# ---------------------------------------------------------------------------------------------
# Unicode digits

# A non-ASCII decimal digit (\d matches every Unicode Nd character) or a full-width ASCII form.
_WIDE_RE = re.compile(r"(?![0-9])\d|[\uff01-\uff5e\u3000]")


class _AsciiForms(dict):
    """A ``str.translate`` table filled on demand: decimal digits of every script to ``0-9``,
    full-width forms (U+FF01..U+FF5E, U+3000) to their ASCII characters, everything else unchanged
    (not cached, so the table never grows past the ~800 characters it maps)."""

    def __missing__(self, cp: int) -> int | str:
        ch = chr(cp)
        if 0xFF01 <= cp <= 0xFF5E:
            out: int | str = chr(cp - 0xFEE0)
        elif cp == 0x3000:
            out = " "
        elif unicodedata.category(ch) == "Nd":
            out = str(unicodedata.digit(ch))
        else:
            return cp
        self[cp] = out
        return out


_ASCII_FORMS = _AsciiForms({cp: cp for cp in range(128)})


def ascii_digits(s: str) -> str:
    """``s`` with Unicode decimal digits (full-width ``１２``, Arabic-Indic ``١٢``, Devanagari, ...) as
    ASCII digits and full-width ASCII forms (``＋``, ``（``, ``ｘ``) as ASCII: the part of NFKC that
    cannot change a meaning (NFKC would also turn ``x²`` into ``x2`` and ``½`` into ``1⁄2``).

    Examples:
        >>> ascii_digits("x = １２"), ascii_digits("١٢٣"), ascii_digits("x²")
        ('x = 12', '123', 'x²')
    """
    if s.isascii() or _WIDE_RE.search(s) is None:
        return s
    return s.translate(_ASCII_FORMS)


# ---------------------------------------------------------------------------------------------
# pre-scan


def max_nesting(s: str) -> int:
    """Deepest bracket nesting in ``s`` (linear scan; all bracket kinds count alike)."""
    depth = best = 0
    for ch in s:
        if ch in "([{":
            depth += 1
            best = max(best, depth)
        elif ch in ")]}":
            depth -= 1
    return best


def brace_end(text: str, open_idx: int, limit: int | None = None) -> int:
    """Index just past the ``}`` matching the ``{`` at ``text[open_idx]``, or -1 when unclosed.

    Escaped ``\\{`` and ``\\}`` do not count. Scans at most ``limit`` characters when given.
    """
    depth = 0
    i = open_idx
    end = len(text) if limit is None else min(len(text), open_idx + limit)
    while i < end:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def _match_brace(s: str, i: int) -> int:
    """Index just after the brace group opening at ``s[i] == '{'`` (or len(s) if unclosed)."""
    j = brace_end(s, i)
    return len(s) if j < 0 else j


# ---------------------------------------------------------------------------------------------
# tokenizer


def tokenize(s: str, text_mode: bool = False, _depth: int = 0) -> list[Token]:
    """Split ``s`` into tokens ``(kind, value, spaced)``.

    Kinds: ``num`` (digits, optional decimal part), ``id`` (a run of letters in math mode),
    ``word`` (a run of letters inside ``\\text{}``), ``cmd`` (a control sequence, aliases
    resolved), ``op`` (a single character or ``\\\\``), ``sp`` (a thin space ``\\,``/``\\!``),
    ``tsep`` (``{,}``), ``begin``/``end`` (environments). ``spaced`` is True when whitespace
    came before the token.

    Raises:
        ParseError: nesting too deep.
    """
    if _depth > MAX_NESTING:
        raise TooLarge("nesting too deep")
    s = ascii_digits(s)
    if any(c in UNICODE for c in s):
        s = "".join(UNICODE.get(c, c) for c in s)
    out: list[Token] = []
    i, n = 0, len(s)
    spaced = False
    while i < n:
        c = s[i]
        if c.isspace():
            spaced = True
            i += 1
            continue
        if c == "$":
            i += 1
            continue
        r = _REPEAT_RE.match(s, i) if (c in _DIGITS or c == ".") else None
        if r is not None:  # 0.\overline{3}, 0.1\bar{6}: a repeating decimal, exact as p/q
            out.append(("num", _repeating(r.group(1), r.group(2), r.group(3) or r.group(4)), spaced))
            i = r.end()
        elif c in _DIGITS or (c == "." and i + 1 < n and s[i + 1] in _DIGITS):  # ASCII only, not "²"
            m = _NUM_RE.match(s, i)
            assert m is not None  # c is a digit, or a point before one
            out.append(("num", m.group(), spaced))
            i = m.end()
        elif c.isalpha() and c.isascii():
            m = _WORD_RE.match(s, i)
            assert m is not None  # c is an ASCII letter
            w = m.group()
            if not text_mode and "." in w:  # "a.m." only in text; in math "x.y" is x . y
                w = w.split(".", 1)[0]
            out.append(("word" if text_mode else "id", w, spaced))
            i += len(w)
        elif c == "{" and (t := _TSEP_RE.match(s, i)) is not None:  # {,} and {, } (thousands)
            out.append(("tsep", ",", spaced))
            i = t.end()
        elif c in "<>!" and s.startswith("=", i + 1) and not (c == "!" and i and (s[i - 1].isalnum() or s[i - 1] in ")}")):
            out.append(("cmd", _ASCII_REL[c], spaced))  # x >= 5, x != 3 (but 5!=120 is a factorial)
            i += 2
        elif c == "\\":
            m = _CMD_RE.match(s, i)
            if m is None:  # \ followed by a non-letter
                two = s[i:i + 2]
                i += 2
                if two in ("\\{", "\\}"):
                    out.append(("op", two, spaced))
                elif two == "\\\\":
                    out.append(("op", "\\\\", spaced))
                elif two in SPACING:
                    out.append(("sp", two, spaced))
                elif two in DISPLAY_DELIMS:
                    pass
                elif two == "\\%":
                    out.append(("op", "%", spaced))
                elif two in ("\\$", "\\#", "\\&", "\\_"):
                    if two == "\\_":
                        out.append(("op", "_", spaced))
                else:
                    out.append(("op", two[1:] or "\\", spaced))
                spaced = False
                continue
            name = "\\" + m.group(1)
            glued = _GLUED_RE.match(name)
            if glued is not None:  # "\quadx_2": a spacing command glued to a variable
                name = glued.group(1)
                i = m.start() + len(name)
            else:
                i = m.end()
            name = ALIASES.get(name, name)
            if name in TEXT_CMDS or name in ARG_DROP or name in ("\\begin", "\\end"):
                j = i
                while j < n and s[j].isspace():
                    j += 1
                if j < n and s[j] == "{":
                    k = _match_brace(s, j)
                    inner = s[j + 1:k - 1] if k <= n and s[k - 1:k] == "}" else s[j + 1:k]
                    i = k
                    if name in ("\\begin", "\\end"):
                        out.append((name[1:], inner.strip().rstrip("*"), spaced))
                    elif name in TEXT_CMDS:
                        out.extend(tokenize(inner, name != "\\operatorname" and name != "\\mathrm"
                                            or _wordy_text(inner), _depth + 1))
                    # ARG_DROP: argument dropped entirely
                elif name in ("\\begin", "\\end"):
                    raise ParseError("\\begin without {env}")
                spaced = False
                continue
            if name in SIZE_DROPPERS:
                j = i
                while j < n and s[j].isspace():
                    j += 1
                if j < n and s[j] == ".":  # \left. / \right. (invisible delimiter)
                    i = j + 1
                spaced = False
                continue
            if name in DROP:
                continue
            if name in QUADS:
                out.append(("op", "\\quad", spaced))
                spaced = True
                continue
            if name in ("\\lfloor", "\\rfloor", "\\lceil", "\\rceil", "\\langle", "\\rangle",
                        "\\{", "\\}") or not name.startswith("\\") and name not in ("and", "or"):
                out.append(("op", name, spaced))
            elif name in ("and", "or"):
                out.append(("word", name, spaced))
            else:
                out.append(("cmd", name, spaced))
        elif c == "~":
            out.append(("sp", "~", spaced))
            i += 1
        else:
            out.append(("op", c, spaced))
            i += 1
        spaced = False
        if len(out) > MAX_TOKENS * 4:
            raise TooLarge("too many tokens")
    return out


def _wordy_text(inner: str) -> bool:
    """\\mathrm{cm} is a word; \\mathrm{d} or \\operatorname{sin} is math."""
    letters = re.sub(r"[^A-Za-z]", "", inner)
    return len(letters) >= 2 and letters.lower() not in FUNCS


def fuse_thousands(tokens: list[Token], family: str, ambiguous: bool) -> tuple[list[Token], bool]:
    """Join digit groups split by thousands separators; drop spacing tokens.

    Explicit separators (``{,}``, ``,\\!``, a thin space ``\\,``/``\\!`` between digit groups,
    each followed by exactly three digits) always join. In family ``gsm8k`` a bare comma between
    digits always joins. In MATH a bare comma between 3-digit groups (``1,000``; never ``0,1``,
    ``1, 000`` or ``1000,000``) is ambiguous: it joins only when ``ambiguous`` is True.

    Returns:
        (tokens, had_ambiguous): whether a bare ambiguous comma was seen (joined or not).
    """
    out: list[Token] = []
    had_amb = False
    i, n = 0, len(tokens)
    while i < n:
        t = tokens[i]
        if t[0] == "num" and t[1].isdigit() and (family == "gsm8k" or (
                len(t[1]) <= 3 and not (t[1].startswith("0")))):
            text = t[1]
            j = i + 1
            by_space = False
            while j < n and "." not in text:
                nxt = tokens[j]
                if (nxt[0] == "num" and nxt[2] and len(nxt[1]) == 3 and nxt[1].isdigit()
                        and (by_space or (len(text) <= 3 and text.isdigit() and not text.startswith("0")))):
                    text += nxt[1]  # "1 000 000": digit groups separated by plain spaces (SI style)
                    by_space = True
                    j += 1
                    continue
                if by_space:
                    break
                k = j
                while k < n and k - j < 3 and (tokens[k][0] in ("sp", "tsep")
                                               or tokens[k][:2] == ("op", ",")):
                    k += 1
                run = tokens[j:k]
                if not run or k >= n or tokens[k][0] != "num":
                    break
                grp = tokens[k][1]
                head = grp.split(".")[0]
                commas = sum(1 for x in run if x[0] == "op")
                tseps = sum(1 for x in run if x[0] == "tsep")
                sps = sum(1 for x in run if x[0] == "sp")
                if commas + tseps > 1 or not head:
                    break
                if any(x[0] == "sp" and x[1] not in ("\\!", "\\,") for x in run):
                    break  # "\ ", "\;", "~" are word spaces, not digit-group separators
                if not (tseps or sps) and (any(x[2] for x in run) or tokens[k][2]):
                    break  # "1, 000": whitespace after a bare comma makes a list
                if tseps or sps:
                    if len(head) != 3:
                        break
                elif family == "gsm8k":
                    pass
                elif len(head) == 3:
                    had_amb = True
                    if not ambiguous:
                        break
                else:
                    break
                text += grp
                j = k + 1
            out.append(("num", text, t[2]))
            i = j
            continue
        if t[0] != "sp":
            out.append(("op", ",", t[2]) if t[0] == "tsep" else t)
        i += 1
    return out, had_amb


def norm_key(tokens: list[Token]) -> tuple:
    """Tokens without spacing flags: two answers with equal keys are written the same way."""
    return tuple((t[0] if t[0] != "word" else "id", t[1]) for t in tokens if t[0] != "sp")
