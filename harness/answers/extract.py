"""Final-answer extraction: find the answer a model output commits to, as written.

Pure string work in linear time (``str.find``/``rfind`` and regexes without nested
quantifiers), so a 200,000-character garbage output costs milliseconds. No sympy here:
:mod:`harness.answers.equiv` decides equality; this module only finds the string.

Two modes (reported side by side by ``harness grade``):

Only the text after the last ``</think>`` counts; an unclosed ``<think>`` block is no answer.

``strict``
    Only what the prompt formats ask for, the LAST of them winning. MATH: the final box group
    (``\\boxed{...}``/``\\fbox{...}``, brace-matched, ``\\boxed 5``; boxes joined only by connectors
    are one list answer), "The answer is[:] X" (MetaMath/Skywork), "Final Answer: ..." (Minerva, or
    a sentence ending in the answer). A refused final box (unclosed, empty, too long) is no answer
    in BOTH modes. GSM8K: "#### N", else "The answer is[:] N", else the last box group.
``flexible``
    Strict first, then "Final Answer:"/"final answer is", then any "answer is"/"answer:"
    (any case), then bold markdown ``**X**``, then the last number (MATH: or the last
    ``$...$`` span / bare ``\\frac``-like command, whichever ends later).

Run-on text: the output is always cut at the first end-of-turn token (``<|im_end|>``, ``</s>``,
...). Run-on few-shot text ("... The answer is 18.\\n\\nQuestion: ... The answer is 42.") is cut
at the first run-on marker ("\\nQuestion:", "\\nQ:", "\\nProblem:", "\\n### Instruction", ...)
that follows the first strict answer marker, before the strict search. When no answer marker
precedes any run-on marker, strict searches the whole text (the model may have restated the
problem first). The flexible fallbacks never look past the first run-on marker.
"""

from __future__ import annotations

import re

from harness.answers.lexer import ascii_digits, brace_end

#: Answers longer than this are treated as no answer (garbage, not a final answer).
MAX_ANSWER_CHARS = 1000
#: Only the last this many characters of the answer region are searched.
MAX_OUTPUT_CHARS = 200_000
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
#: Boxes joined into one answer at most (``\\boxed{1}, \\boxed{2}, ...``).
MAX_GROUP = 16
#: Longest text between two boxes of one answer (``\\quad \\text{and} \\quad``).
MAX_GAP_CHARS = 120


class _Refused:
    """Marker: the final box was found but refused (unclosed, empty, or too long)."""

    def __repr__(self) -> str:
        return "REFUSED"


REFUSED = _Refused()
#: Regex-based fallbacks (last number, ``$`` spans, bold) look only at this many trailing chars.
TAIL_CHARS = 20_000

#: End-of-turn tokens: nothing after them is the model's answer; always cut at the first one.
END_OF_TURN: tuple[str, ...] = (
    "<|im_end|>",
    "<|im_start|>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<|eot_id|>",
    "<|user|>",
    "</s>",
)
#: Markers that start a NEW exemplar or turn (but "Problem:" may also be a restatement).
RUNON_MARKERS: tuple[str, ...] = (
    "\nQuestion:",
    "\nQ:",
    "\nProblem:",
    "\n### Instruction",
    "\n### Question",
    "\n### Problem",
    "\nUser:",
    "\nHuman:",
) + END_OF_TURN
_RUNON_RE = re.compile("|".join(re.escape(m) for m in RUNON_MARKERS))
_EOT_RE = re.compile("|".join(re.escape(m) for m in END_OF_TURN))

_STRICT_MARKERS = {
    "math": re.compile(r"\\boxed|\\fbox|The answer is|Final Answer:"),
    "gsm8k": re.compile(r"####|The answer is|\\boxed|\\fbox"),
}

_BOX_NAMES = ("\\boxed", "\\fbox")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_TRAILING = " \t\r\n.,;:!?"
# A number: starts with a digit, thousands commas allowed, one optional decimal part.
# No nested or adjacent overlapping quantifiers, so matching is linear.
_NUMBER_RE = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")
# The last-number fallback reads the whole number: "2/3", ".4", "14{,}916", "12,\\!000", "1 000".
_WHOLE_NUMBER_RE = re.compile(
    r"(?<![\w.\\])-?(?:\d{1,3}(?: \d{3}(?![\d,.]))+|\d(?:[\d,]|\s?\{\s?,\s?\}|\\[!,])*(?:\.\d+)?|\.\d+)"
    r"(?:/\d+(?:\.\d+)?)?")
_DOUBLED_RE = re.compile(
    r"(?<!\\)\\\\(?:[dt]?frac|left|right|boxed|fbox|sqrt|text|mathrm|mathbf|cdot|times|pi|infty|leq?|geq?|"
    r"neq?|pm|begin|end|q?quad|circ|cup|cap|in|sin|cos|tan|log|ln|c?dots|ldots|overline|approx)(?![A-Za-z])")
_MONEY_RE = re.compile(r"\$\s?-?\d[\d,]*(?:\.\d+)?")
_BOLD_RE = re.compile(r"\*\*([^*\n]{1,200})\*\*")
_FRAC_CMDS = ("\\dfrac", "\\tfrac", "\\frac", "\\sqrt")
# Longest phrase-fallback answer ("answer is X") taken as a final answer, per family.
_PHRASE_MAX = {"math": 200, "gsm8k": 40}


def extract(output: str, family: str, mode: str) -> str | None:
    """The final answer in a model output, exactly as written, or None.

    Args:
        output: the model's completion (untrusted; any length; callers clip to 200k chars).
        family: ``"math"`` (boxed answers) or ``"gsm8k"`` (``#### N``); others use MATH rules.
        mode: ``"strict"`` or ``"flexible"`` (see the module docstring).

    Returns:
        The answer string (whitespace-trimmed, trailing sentence punctuation and outer
        ``$...$`` removed), or None when nothing is found, a box is never closed, or the
        answer is longer than :data:`MAX_ANSWER_CHARS`.

    Examples:
        >>> extract("So $x=3$. The answer is 18. ", "gsm8k", "strict")
        '18'
        >>> extract("Hence $\\\\boxed{\\\\frac{1}{2}}$.", "math", "strict")
        '\\\\frac{1}{2}'
    """
    if not isinstance(output, str) or not output:
        return None
    region = answer_region(output)
    if region is None:
        return None  # the model never left its <think> block (ran out of tokens)
    fam = "gsm8k" if family == "gsm8k" else "math"
    text = _cut_first(undouble(ascii_digits(region[-MAX_OUTPUT_CHARS:])), _EOT_RE)
    strict_text = _cut_runon(text, _STRICT_MARKERS[fam])
    ans = _strict_gsm8k(strict_text) if fam == "gsm8k" else _strict_math(strict_text)
    if isinstance(ans, _Refused):
        return None  # a box was found but refused: never fall back to a stray number
    if ans is not None or mode == "strict":
        return ans
    return _flexible(_cut_first(text, _RUNON_RE), fam)


def reference_answer(text: str, family: str = "math") -> str | None:
    """The answer a reference text states, for golds written as text rather than as a bare answer.

    A text with a box, a final-answer statement, or over 200 characters (a worked solution) is read
    like a model output (flexible mode); a short text is the answer itself, without its outer math
    delimiters (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``).

    Examples:
        >>> reference_answer("$(p,q)=(3,2)$")
        '(p,q)=(3,2)'
        >>> reference_answer("so the roots are $\\\\boxed{1}$ and $\\\\boxed{-2}$.")
        '1, -2'
    """
    s = text.strip()
    if len(s) >= 200 or any(m in s for m in (*_BOX_NAMES, "Final Answer:", "The answer is")):
        found = extract(s, family, "flexible")
        if found is not None:
            return found
    for open_, close in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if len(s) >= len(open_) + len(close) and s.startswith(open_) and s.endswith(close):
            s = s[len(open_) : len(s) - len(close)].strip()
            break
    return s or None


def unclosed_think(output: str) -> bool:
    """True when the output opened a ``<think>`` block it never closed (it ran out of tokens).

    Examples:
        >>> unclosed_think("<think> let me see, 2+2 is")
        True
        >>> unclosed_think("<think>2+2=4</think> The answer is $\\boxed{4}$.")
        False
    """
    if not isinstance(output, str):
        return False
    i = output.rfind(THINK_OPEN)
    return i >= 0 and output.find(THINK_CLOSE, i) < 0


def answer_region(output: str) -> str | None:
    """The text after the last ``</think>`` (the whole output when there is none), or None when a
    ``<think>`` block is never closed: the reasoning is not an answer."""
    if unclosed_think(output):
        return None
    j = output.rfind(THINK_CLOSE)
    return output[j + len(THINK_CLOSE):] if j >= 0 else output


def undouble(text: str) -> str:
    """Undo double-escaped LaTeX as found in JSON-exported outputs (``\\\\frac`` -> ``\\frac``).

    Only when a doubled backslash is followed by a known command name: a real LaTeX row break
    followed by a command needs three backslashes (``\\\\\\frac``).
    """
    if "\\\\" in text and _DOUBLED_RE.search(text):
        return text.replace("\\\\", "\\")
    return text


# --- run-on few-shot text ---------------------------------------------------------------------


def _cut_runon(text: str, answer_markers: re.Pattern[str]) -> str:
    """Cut ``text`` at the first run-on marker after the first answer marker (if both exist)."""
    first = answer_markers.search(text)
    if first is None:
        return text
    m = _RUNON_RE.search(text, first.end())
    return text[: m.start()] if m else text


def _cut_first(text: str, markers: re.Pattern[str]) -> str:
    """Cut at the first marker that has some content before it."""
    for m in markers.finditer(text):
        if text[: m.start()].strip():
            return text[: m.start()]
    return text


# --- boxes --------------------------------------------------------------------------------------


def _last_box_start(text: str, end: int | None = None) -> tuple[int, int]:
    """(index of the last ``\\boxed``/``\\fbox`` command before ``end``, length of its name), or (-1, 0)."""
    best, name_len = -1, 0
    stop = len(text) if end is None else end
    for name in _BOX_NAMES:
        i = text.rfind(name, 0, stop)
        # skip names that are a prefix of a longer command, e.g. \boxedfoo
        while i >= 0 and i + len(name) < len(text) and text[i + len(name)].isalpha():
            i = text.rfind(name, 0, i)
        if i > best:
            best, name_len = i, len(name)
    return best, name_len


def _brace_group(text: str, open_idx: int, limit: int = MAX_ANSWER_CHARS + 2) -> int:
    """Index just past the ``}`` matching the ``{`` at ``open_idx``, or -1 (unclosed / too long)."""
    return brace_end(text, open_idx, limit)


def _box_at(text: str, start: int, name_len: int) -> tuple[str | None, int]:
    """Content of the box command at ``start`` and the index just past it; (None, -1) when the
    box is unclosed or longer than :data:`MAX_ANSWER_CHARS`. Space form ``\\boxed 5`` too."""
    i = start + name_len
    n = len(text)
    j = i
    while j < n and text[j] in " \t":
        j += 1
    if j < n and text[j] == "{":
        end = _brace_group(text, j)
        if end < 0:
            return None, -1
        return text[j + 1 : end - 1], end
    if j > i:  # \boxed 5 : the next token
        k = j
        while k < n and not text[k].isspace() and text[k] not in "$":
            k += 1
        tok = text[j:k]
        return (tok, k) if tok else (None, -1)
    return None, -1


def _box_group(text: str) -> tuple[int, str | _Refused | None]:
    """(start of the last box or -1, the answer the final boxes state together).

    The last box and the boxes right before it that are joined only by connectors (``,``, ``;``,
    "and", "or", ``\\quad``, ``\\text{and}``, math delimiters, a label ``y_2 =``, "for part (a)", a
    unit word) form one answer, a list: ``\\boxed{1}, \\boxed{2}`` is "1, 2". A sentence end, a
    paragraph break or other words between two boxes end the group. A refused last box (unclosed,
    empty, too long) is :data:`REFUSED`.
    """
    start, name_len = _last_box_start(text)
    if start < 0:
        return -1, None
    content, _end = _box_at(text, start, name_len)
    first = _clean(content, boxed=True) if content is not None else None
    if first is None:
        return start, REFUSED
    answers = [first]
    cur = start
    while len(answers) < MAX_GROUP:
        prev, plen = _last_box_start(text, cur)
        if prev < 0:
            break
        content, end = _box_at(text, prev, plen)
        ans = _clean(content, boxed=True) if content is not None else None
        if ans is None or end > cur or not _connector_gap(text[end:cur]):
            break
        answers.insert(0, ans)
        cur = prev
    unique = list(dict.fromkeys(answers))
    return start, ", ".join(unique)


_GAP_TEXT_RE = re.compile(r"\\(?:text|textbf|textrm|textnormal|mbox|mathrm)\s*\{([^{}]*)\}")
_GAP_DROP_RE = re.compile(r"\\q?quad|\\[,;:! ()\[\]]|\$|~|&|\\\\|\*\*")
_GAP_TOKEN_RE = re.compile(r"[A-Za-z]\w*(?:_\{?\w+\}?)?\s*=|\([a-z]\)|[A-Za-z]+|\S")
_CONNECTORS = {",", ";", "and", "or", "for", "part", "parts"}


def _connector_gap(gap: str) -> bool:
    """True when the text between two boxes only joins them (see :func:`_box_group`)."""
    if len(gap) > MAX_GAP_CHARS or re.search(r"\n\s*\n", gap):
        return False
    g = _GAP_DROP_RE.sub(" ", _GAP_TEXT_RE.sub(lambda m: f" {m.group(1)} ", gap))
    tokens = _GAP_TOKEN_RE.findall(g)
    for k, tok in enumerate(tokens):
        low = tok.lower()
        if low in _CONNECTORS or tok.endswith("=") or (tok.startswith("(") and len(tok) == 3):
            continue
        # a unit word right after a box, before a connector: "\boxed{1} papers and \boxed{2} bins"
        if k == 0 and tok.isalpha() and len(tok) > 1 and len(tokens) > 1 and tokens[1].lower() in _CONNECTORS:
            continue
        return False
    return True


# --- sentences ----------------------------------------------------------------------------------


def _after_marker(text: str, pos: int, family: str) -> str | None:
    """The answer written after a marker ending at ``pos`` ("The answer is", "####", ...)."""
    s = text[pos : pos + 4 * MAX_ANSWER_CHARS]
    s = s.lstrip(" \t:")
    if s.startswith("**"):  # "The answer is **73**." / "**Answer:** 42"
        end = s.find("**", 2)
        if end > 2 and s[2:end].strip(" :"):
            return _after_marker(s[2:end], 0, family)
        s = s[end + 2 :] if end >= 0 else s[2:]
        s = s.lstrip(" \t:")
    if s.startswith(("\n", "\r")):
        s = s.lstrip()  # "The answer is:\n\n$$5$$"
    if not s:
        return None
    if s.startswith(_BOX_NAMES):
        name_len = 6 if s.startswith("\\boxed") else 5
        content, _ = _box_at(s, 0, name_len)
        return _clean(content, boxed=True) if content is not None else None
    for open_, close in (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)")):
        if s.startswith(open_):
            end = s.find(close, len(open_))
            return _clean(s[len(open_) : end], boxed=True) if end > 0 else None
    if s.startswith("$"):
        end = s.find("$", 1)
        span = end > 0 and "\n" not in s[:end]
        money = _MONEY_RE.match(s)
        after = s[money.end() : money.end() + 1] if money else ""
        if money and (after == "" or after.isspace() or (after in ".,;!?" and _ends_sentence(s, money.end()))) \
                and not (span and not _WORDS_RE.search(s[1:end])):
            return _clean(money.group())  # "$29.00." : dollars, keep as written ("$14 {, }916$" is math)
        if span:
            return _clean(s[1:end], boxed=True)
    line = s.split("\n", 1)[0]
    m = _SENTENCE_END.search(line)
    if m:
        line = line[: m.start()]
    return _clean(line)


def _ends_sentence(s: str, i: int) -> bool:
    return i + 1 >= len(s) or s[i + 1].isspace()


def _clean(ans: str | None, *, boxed: bool = False) -> str | None:
    """Trim, drop trailing sentence punctuation, bold markers and outer ``$...$``; cap length.

    Inside a box a trailing ``!`` is a factorial (``\\boxed{5!}``), never sentence punctuation.
    """
    if ans is None:
        return None
    a = strip_spacing(ans)
    trailing = _TRAILING.replace("!", "") if boxed else _TRAILING
    for _ in range(3):
        prev = a
        a = strip_spacing(_rstrip_unescaped(a, trailing))
        if a.startswith("**") and a.endswith("**") and len(a) > 4:
            a = a[2:-2].strip()
        if len(a) >= 2 and a.startswith("$") and a.endswith("$") and a.count("$") == 2:
            a = a[1:-1].strip()
        if a.startswith("$$") and a.endswith("$$") and len(a) > 4:
            a = a[2:-2].strip()
        for q in ('\\"', '"'):  # quoted: \"$12$ and $13$\"
            if len(a) > 2 * len(q) and a.startswith(q) and a.endswith(q):
                a = a[len(q):-len(q)].strip()
        if a == prev:
            break
    if not a or len(a) > MAX_ANSWER_CHARS:
        return None
    return a


#: Spacing commands at the start of an answer (``\\boxed{\\, 5\\,}``); see :func:`strip_spacing`.
_LEAD_SPACING_RE = re.compile(r"^(?:\s|\\[,;:! >]|\\q?quad(?![A-Za-z])|~)+")
_SPACING_TAILS = ("\\qquad", "\\quad", "\\,", "\\;", "\\:", "\\!", "\\ ", "\\>", "~")


def strip_spacing(s: str) -> str:
    """``s`` without whitespace and LaTeX spacing commands (``\\,`` ``\\;`` ``\\:`` ``\\!``
    ``\\ `` ``\\quad`` ``\\qquad`` ``~``) at either end: dropped whole, never cut as punctuation
    (a trailing ``\\,`` is not a comma after a lone ``\\``), and never half of a ``\\\\``.

    Examples:
        >>> strip_spacing("\\,\\dfrac{1}{2}\\, ")
        '\\dfrac{1}{2}'
    """
    s = _LEAD_SPACING_RE.sub("", s)
    while True:
        tail = next((t for t in _SPACING_TAILS if s.endswith(t)), None)
        if tail is None:
            if not s or not s[-1].isspace():
                return s
            tail = " "
        k = len(s) - len(tail)  # a backslash before it must not be escaped, nor escape it
        n = 0
        while k - n - 1 >= 0 and s[k - n - 1] == "\\":
            n += 1
        if n % 2 and tail[0] == "\\":  # "x\\\\ ": a row break, then a plain space
            if tail != "\\ ":
                return s
            s = s[:-1]
            continue
        s = s[:k - 1] if n % 2 else s[:k]  # "5\\ " drops the control space whole


def _rstrip_unescaped(a: str, chars: str) -> str:
    """``a.rstrip(chars)``, except that a character escaped by a backslash (``\\,``) stays."""
    end = len(a)
    while end > 0 and a[end - 1] in chars:
        k = end - 1  # count the backslashes before a[end - 1]: an odd count escapes it
        while k > 0 and a[k - 1] == "\\":
            k -= 1
        if (end - 1 - k) % 2:
            break
        end -= 1
    return a[:end]


def _last_phrase(text: str, phrases: tuple[str, ...], family: str, *, nocase: bool = False) -> str | None:
    """Answer after the LAST occurrence of any of ``phrases`` (word-bounded on the right)."""
    hay = text.lower() if nocase else text
    best_pos, best_end = -1, -1
    for p in phrases:
        needle = p.lower() if nocase else p
        i = hay.rfind(needle)
        while i >= 0:
            e = i + len(needle)
            if e >= len(hay) or not (hay[e].isalpha() or hay[e] == "'"):
                break  # not "The answer isn't"
            i = hay.rfind(needle, 0, i)
        if i > best_pos:
            best_pos, best_end = i, i + len(needle)
    if best_pos < 0:
        return None
    return _after_marker(text, best_end, family)


def _final_answer(text: str, family: str) -> tuple[int, str | None]:
    """The last "Final Answer:" statement: Minerva's "The final answer is X. I hope it is correct.",
    or a sentence ("Final Answer: The largest $n$ is 34.", see :func:`_sentence_answer`)."""
    i = text.rfind("Final Answer:")
    if i < 0:
        return -1, None
    s = text[i + len("Final Answer:") :]
    j = s.find("I hope it is correct")
    if 0 <= j < 4 * MAX_ANSWER_CHARS:
        s = s[:j]
    s = s.lstrip(" \t")
    if s.startswith("The final answer is"):
        return i, _after_marker(s, len("The final answer is"), family)
    return i, _sentence_answer(s, family)


_MATH_SPAN_RE = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)")
_WORDS_RE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")


def _sentence_answer(s: str, family: str) -> str | None:
    """The answer a final sentence states: the number or math expression it ends in, else its only
    number or expression ("Jane started growing Sphere 3 hours ago." -> 3); None when ambiguous.
    A sentence without words ("Final Answer: $5$") is read like any answer after a marker."""
    line = s.split("\n", 1)[0]
    masked = _MATH_SPAN_RE.sub(lambda m: " " * len(m.group()), line)
    m = _SENTENCE_END.search(masked)
    sentence = line[: m.start()] if m else line
    masked = masked[: len(sentence)]
    if not _WORDS_RE.search(masked):
        return _after_marker(s, 0, family)
    cands = [(m.start(), m.end(), next(g for g in m.groups() if g is not None))
             for m in _MATH_SPAN_RE.finditer(sentence)]
    cands += [(m.start(), m.end(), m.group()) for m in _WHOLE_NUMBER_RE.finditer(masked)]
    if not cands:
        return _clean(sentence)  # "Final Answer: odd"
    cands.sort()
    tail = _rstrip_unescaped(sentence, _TRAILING)
    if cands[-1][1] >= len(tail) or len(cands) == 1:
        return _clean(cands[-1][2], boxed=True)
    return None


def _last_answer_is(text: str, family: str) -> tuple[int, str | None]:
    i = -1
    for p in ("The answer is:", "The answer is"):
        j = text.rfind(p)
        while j >= 0 and j + len(p) < len(text) and (text[j + len(p)].isalpha() or text[j + len(p)] == "'"):
            j = text.rfind(p, 0, j)
        i = max(i, j)
    if i < 0:
        return -1, None
    end = i + len("The answer is")
    return i, _after_marker(text, end, family)


# --- strict -------------------------------------------------------------------------------------


def _mathlike(ans: str | None) -> bool:
    """An answer that states a value (a digit, a command, an operator or a choice letter) without prose
    ("The answer is correct because ..." after a box is commentary, not a new final answer)."""
    if ans is None or _WORDS_RE.search(_MATH_SPAN_RE.sub(" ", ans)):
        return False  # "correct because 3 * 4 = 12", "5 cm": prose, the box stays the answer
    return bool(re.search(r"[\d\\^_=+\-*/()<>]|^[A-Z]$", ans))


def _strict_math(text: str) -> str | _Refused | None:
    """The LAST final-answer statement: a box group, "The answer is X" or "Final Answer: ..."."""
    start, boxed = _box_group(text)
    i1, a1 = _last_answer_is(text, "math")
    i2, a2 = _final_answer(text, "math")
    i, a = (i1, a1) if i1 > i2 else (i2, a2)
    if start >= 0 and i > start and i < _box_at(text, start, _last_box_start(text)[1])[1]:
        i = -1  # "\boxed{\text{The answer is } 7}": the phrase is inside the box
    if start >= 0 and not (i > start and _mathlike(a)):
        return boxed  # an unclosed / too long last box is REFUSED, not half an answer
    return a


def _strict_gsm8k(text: str) -> str | _Refused | None:
    i = text.rfind("####")
    if i >= 0:
        ans = _after_marker(text, i + 4, "gsm8k")
        if ans is not None:
            return ans
    _, a = _last_answer_is(text, "gsm8k")
    if a is not None:
        return a
    return _box_group(text)[1]


# --- flexible -----------------------------------------------------------------------------------


def _flexible(text: str, family: str) -> str | None:
    """Fallbacks on ``text`` already cut at the first run-on marker (never few-shot text)."""
    want_digit = family == "gsm8k"

    def ok(a: str | None) -> bool:
        return a is not None and (not want_digit or any(c.isdigit() for c in a))

    for phrases in (("final answer is", "final answer:"), ("answer is", "answer:")):
        a = _last_phrase(text, phrases, family, nocase=True)
        if a is not None and len(a) > _PHRASE_MAX[family]:
            a = None  # "Answer: Natalia sold 48/2 = 24 clips in May, ..." is reasoning, not a final answer
        if a is not None and want_digit and not _NUMBER_RE.fullmatch(a.lstrip("$")):
            m = _NUMBER_RE.search(a)  # "19 apples" -> "19"
            a = m.group().rstrip(",") if m else None
        if ok(a):
            return a
    tail = text[-TAIL_CHARS:]
    for m in reversed(_BOLD_RE.findall(tail)):
        a = _clean(m.rsplit(":", 1)[-1])  # "**Total: 15 mph**" -> "15 mph"
        if a and not m.rstrip().endswith(":") and ok(a):
            return a
    return _last_number_or_math(tail, family)


def _last_number_or_math(tail: str, family: str) -> str | None:
    best_end, best = -1, None
    for m in _WHOLE_NUMBER_RE.finditer(tail):
        best_end, best = m.end(), m.group()
    if best is not None:
        best = best.rstrip(",")
    if family == "math":
        for span in (_last_dollar_span(tail), _last_paren_span(tail)):
            if span is not None and span[0] >= best_end:
                best_end, best = span
        cmd = _last_frac_like(tail)
        if cmd is not None and cmd[0] >= best_end:
            best_end, best = cmd
    return _clean(best)


def _last_dollar_span(tail: str) -> tuple[int, str] | None:
    """(end, content) of the last ``$...$`` or ``$$...$$`` span, pairing dollars left to right."""
    i, n = 0, len(tail)
    last: tuple[int, str] | None = None
    while i < n:
        j = tail.find("$", i)
        if j < 0:
            break
        if j > 0 and tail[j - 1] == "\\":
            i = j + 1
            continue
        delim = "$$" if tail.startswith("$$", j) else "$"
        k = tail.find(delim, j + len(delim))
        while k > 0 and tail[k - 1] == "\\":
            k = tail.find(delim, k + 1)
        if k < 0:
            break
        content = tail[j + len(delim) : k].strip()
        if content:
            last = (k + len(delim), content)
        i = k + len(delim)
    return last


def _last_paren_span(tail: str) -> tuple[int, str] | None:
    """(end, content) of the last ``\\( ... \\)`` or ``\\[ ... \\]`` span (found from the end: linear)."""
    best: tuple[int, str] | None = None
    for open_, close in (("\\(", "\\)"), ("\\[", "\\]")):
        j = tail.rfind(close)
        i = tail.rfind(open_, 0, j) if j >= 0 else -1
        if i < 0 or j - i > MAX_ANSWER_CHARS:
            continue
        content = tail[i + 2 : j].strip()
        if content and (best is None or j + 2 > best[0]):
            best = (j + 2, content)
    return best


def _last_frac_like(tail: str) -> tuple[int, str] | None:
    """(end, text) of the last bare ``\\frac{a}{b}``/``\\dfrac``/``\\sqrt{x}`` (Math-Verify #70)."""
    best = -1
    for c in _FRAC_CMDS:
        best = max(best, tail.rfind(c))
    if best < 0:
        return None
    name = next(c for c in _FRAC_CMDS if tail.startswith(c, best))
    i = best + len(name)
    nargs = 1 if name == "\\sqrt" else 2
    for _ in range(nargs):
        if i < len(tail) and tail[i] == "{":
            e = _brace_group(tail, i)
            if e < 0:
                return None
            i = e
        elif i < len(tail) and tail[i].isalnum():
            i += 1
        else:
            return None
    start = best - 1 if best > 0 and tail[best - 1] == "-" else best
    return i, tail[start:i]
