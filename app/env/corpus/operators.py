"""Bug operators: small, named, single-line code transformations.

Each operator finds *sites* in a clean module (a line it can change) and rewrites that one line
into a buggy version. Every operator keeps the change on one line, so the fix of a planted issue
is always the original line and several changes compose without shifting lines.

Operators know nothing about verification: a site becomes a planted issue only after an
independent check confirms it (see ``app.corpus.verify``), and the generator only uses confirmed
sites.

Families and what they do:

* syntax: ``missing_colon``, ``unclosed_paren``, ``unclosed_bracket``, ``unclosed_string``,
  ``bad_indent``, ``missing_comma``, ``assign_in_condition``, ``missing_in_keyword``,
  ``missing_def_keyword``, ``unterminated_triple_quote``;
* logic: ``flip_comparison``, ``weaken_comparison``, ``range_off_by_one``, ``slice_off_by_one``,
  ``and_or_swap``, ``wrong_initial_accumulator``, ``missing_return``, ``division_swap``,
  ``inverted_condition``, ``mutable_default``, ``early_exit_in_loop``, ``wrong_variable``,
  ``wrong_dict_key``;
* security: ``sql_injection``, ``command_injection``, ``eval_injection``,
  ``unsafe_deserialisation``, ``weak_password_hash``, ``insecure_token``, ``hardcoded_secret``,
  ``tls_verification_disabled``, ``insecure_temp_file``, ``assert_authorisation``,
  ``reflected_xss``, ``path_traversal``, ``open_redirect``, ``debug_enabled``,
  ``xml_external_entities``.

Variants: an operator may rewrite a site in several ways (an f-string or a ``%`` query); each
variant names the splits it may appear in, so the test split holds variants never seen in
training.

Logic operators leave security checks alone: a line that confines a path (``commonpath``,
``realpath``, ``resolve()``, ``is_relative_to``, a ``startswith`` against the root), compares a
credential (``compare_digest``) or authorises a caller (``is_admin``, ``PermissionError``).
Reverting such a check is a vulnerability (CWE-22, an authentication or authorisation bypass),
not a logic bug; path confinement is planted by ``path_traversal``, with its exploit.

Most rewrites look at their line only. A *contextual* variant also receives a ``RewriteContext``
(facts about the whole clean module that renaming cannot change, such as its string dict keys),
so that ``wrong_dict_key`` swaps a key for another key the module really uses.
"""

from __future__ import annotations

import builtins
import dataclasses
import difflib
import io
import keyword
import re
import tokenize
from dataclasses import dataclass, field
from typing import Callable, Optional

from app.env.models import IssueType, Severity

TRAIN_SPLITS = ("train", "validation", "test")
HELD_OUT = ("validation", "test")


@dataclass(frozen=True)
class RewriteContext:
    """Module-wide facts a contextual rewrite may use; none of them change when locals are renamed.

    Attributes:
        dict_keys: The string keys the module reads or writes (``d["key"]``, ``d.get("key")``,
            ``{"key": ...}``), sorted.
        logger: The module-level name bound to ``logging.getLogger(...)``, if any.
        words: Every identifier-like word of the module's source (names, and words in strings
            and comments): a rewrite that introduces a name picks one outside them.
    """

    dict_keys: tuple[str, ...] = ()
    logger: Optional[str] = None
    words: frozenset[str] = frozenset()


NO_CONTEXT = RewriteContext()


@dataclass(frozen=True)
class Variant:
    """One way of rewriting a site. ``rewrite`` returns the new line or ``None`` if not applicable.

    A ``contextual`` variant's ``rewrite`` takes ``(line, context)``; call ``apply`` to use either kind.
    A variant of an operator whose ``span`` is more than one line rewrites a window: it receives
    the ``span`` lines from the site on, joined by newlines, and returns as many lines, joined.
    """

    name: str
    rewrite: Callable[..., Optional[str]]
    splits: tuple[str, ...] = TRAIN_SPLITS
    contextual: bool = False

    def apply(self, line: str, context: RewriteContext = NO_CONTEXT) -> Optional[str]:
        """The rewritten ``line`` (``None`` when the variant does not apply to it)."""
        return self.rewrite(line, context) if self.contextual else self.rewrite(line)


@dataclass(frozen=True)
class Operator:
    """A named bug kind with its category, severity, CWE and rewriting variants."""

    name: str
    issue_type: IssueType
    severity: Severity
    description: str
    variants: tuple[Variant, ...]
    cwe: Optional[str] = None
    # Extra accepted lines after the faulty one (an unclosed bracket is reported on the next line).
    trailing_accepted: int = 0
    # A syntax error's site is proved only where compile() names one of its accepted lines (what
    # a reviewer, or Python, points at). Not so for an unterminated docstring: its error surfaces
    # wherever a later quote happens to close the string, far from the fault.
    compile_names_site: bool = True
    requires_import: Optional[str] = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    # A vulnerability no static rule can prove is proved by the module's exploit
    # ``<exploit_prefix><function>`` (see ``app.corpus.verify``); None: by the usual rule.
    exploit_prefix: Optional[str] = None
    # Lines of the clean module one site covers, from its line on; a reviewer is credited on any
    # of them. The line count of the module never changes.
    span: int = 1

    def variant(self, name: str) -> Variant:
        """The variant called ``name``."""
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(f"{self.name} has no variant {name!r}")


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def window(lines: list[str], line: int, span: int) -> Optional[str]:
    """The ``span`` lines from 1-based ``line`` on, joined by newlines (``None`` past the end)."""
    if line + span - 1 > len(lines):
        return None
    return "\n".join(lines[line - 1:line - 1 + span])


def replace_window(lines: list[str], line: int, text: str, replaced: Optional[int] = None) -> list[str]:
    """``lines`` with ``replaced`` lines from 1-based ``line`` on (as many as ``text`` has, by
    default) replaced by those of ``text``."""
    changed = list(lines)
    new = text.split("\n")
    changed[line - 1:line - 1 + (len(new) if replaced is None else replaced)] = new
    return changed


def _code_part(line: str) -> str:
    """The line without a trailing comment (strings containing '#' are left alone)."""
    if "#" not in line or "'" in line or '"' in line:
        return line.rstrip()
    return line.split("#", 1)[0].rstrip()


_BLOCK_START = re.compile(r"^\s*(?:async\s+)?(def|class|if|elif|else|for|while|try|except|finally|with)\b.*:$")

# ---------------------------------------------------------------------- syntax


def _missing_colon(line: str) -> Optional[str]:
    code = _code_part(line)
    if _BLOCK_START.match(code) and code.endswith(":") and not code.rstrip(":").endswith((":", "(")):
        return code[:-1]
    return None


def _drop_last_closer(closer: str) -> Callable[[str], Optional[str]]:
    def rewrite(line: str) -> Optional[str]:
        code = _code_part(line)
        if code.endswith(":") or not code.endswith(closer) or code.lstrip().startswith(("#", "@")):
            return None
        opener = {")": "(", "]": "["}[closer]
        if code.count(opener) != code.count(closer) or '"""' in code or "'''" in code:
            return None
        return code[:-1]

    return rewrite


def _unclosed_string(line: str) -> Optional[str]:
    code = _code_part(line)
    match = re.search(r'(?<![\w"])"([^"\\{}]{2,})"(?=[),\]]|$)', code)
    if match is None or code.count('"') != 2 or "'" in code:
        return None
    return code[: match.end() - 1] + code[match.end():]


def _bad_indent(line: str) -> Optional[str]:
    code = _code_part(line)
    stripped = code.lstrip()
    if not stripped or not _indent(code) or stripped.startswith(("#", "@", "else", "elif", "except", "finally")):
        return None
    if _BLOCK_START.match(code) or code.endswith(("(", "[", "{", ",", "\\")):
        return None
    return "   " + code  # three extra spaces: no block accepts this indentation


def _missing_comma(line: str) -> Optional[str]:
    code = _code_part(line)
    match = re.search(r'(["\w\])])(, )(["\w\[(])', code)
    if match is None or "def " in code or "lambda" in code or code.lstrip().startswith(("import", "from")):
        return None
    if not re.search(r"[\[{(]", code):
        return None
    return code[: match.start(2)] + " " + code[match.end(2):]


def _assign_in_condition(line: str) -> Optional[str]:
    code = _code_part(line)
    match = re.match(r"^(\s*(?:if|elif|while) [^=!<>]*?) == ([^=].*:)$", code)
    if match is None or code.count("==") != 1:
        return None
    return f"{match.group(1)} = {match.group(2)}"


def _missing_in(line: str) -> Optional[str]:
    code = _code_part(line)
    match = re.match(r"^(\s*for [\w, ()]+?) in (.+:)$", code)
    return f"{match.group(1)} {match.group(2)}" if match else None


def _missing_def(line: str) -> Optional[str]:
    code = _code_part(line)
    match = re.match(r"^(\s*)def (\w+\(.*\).*:)$", code)
    return f"{match.group(1)}{match.group(2)}" if match else None


def _unterminated_docstring(line: str) -> Optional[str]:
    code = _code_part(line)
    stripped = code.strip()
    if stripped.startswith('"""') and stripped.endswith('"""') and len(stripped) > 6 and stripped.count('"""') == 2:
        return code[:-3]
    return None


# ---------------------------------------------------------------------- logic

_COMPARISON = re.compile(r"(?<![<>=!])(<=|>=|==|!=|<|>)(?![<>=])")
_FLIP = {"<": ">=", ">": "<=", "<=": ">", ">=": "<", "==": "!=", "!=": "=="}
_WEAKEN = {"<": "<=", "<=": "<", ">": ">=", ">=": ">"}


def _is_logic_line(code: str) -> bool:
    stripped = code.lstrip()
    return stripped.startswith(("if ", "elif ", "while ", "return ")) and "lambda" not in code


def _comparison(table: dict[str, str]) -> Callable[[str], Optional[str]]:
    def rewrite(line: str) -> Optional[str]:
        code = _code_part(line)
        if not _is_logic_line(code) or '"' in code or "'" in code or "->" in code:
            return None
        matches = [m for m in _COMPARISON.finditer(code) if m.group(1) in table]
        if len(matches) != 1:
            return None
        match = matches[0]
        return code[: match.start()] + table[match.group(1)] + code[match.end():]

    return rewrite


def _range_off_by_one(delta: str) -> Callable[[str], Optional[str]]:
    def rewrite(line: str) -> Optional[str]:
        code = _code_part(line)
        match = re.search(r"\brange\(([^()]*(?:\([^()]*\))?[^()]*)\)", code)
        if match is None or "," in match.group(1) and match.group(1).count(",") > 1:
            return None
        args = match.group(1)
        if "," in args:
            start, stop = (part.strip() for part in args.split(",", 1))
            if delta == "start":
                new_args = f"{start} + 1, {stop}" if start != "0" else f"1, {stop}"
            else:
                new_args = f"{start}, {stop} {delta}"
        else:
            if delta == "start":
                new_args = f"1, {args}"
            else:
                new_args = f"{args} {delta}"
        return code[: match.start(1)] + new_args + code[match.end(1):]

    return rewrite


def _slice_off_by_one(line: str) -> Optional[str]:
    code = _code_part(line)
    match = re.search(r"\[(-?\w*):(-?[\w.() +-]+)\]", code)
    if match is None or "lambda" in code:
        return None
    upper = match.group(2).strip()
    return code[: match.start(2)] + f"{upper} - 1" + code[match.end(2):]


def _and_or_swap(line: str) -> Optional[str]:
    code = _code_part(line)
    if not _is_logic_line(code):
        return None
    ands, ors = len(re.findall(r"\band\b", code)), len(re.findall(r"\bor\b", code))
    if ands + ors != 1:
        return None
    return re.sub(r"\band\b", "or", code) if ands else re.sub(r"\bor\b", "and", code)


def _wrong_initial(line: str) -> Optional[str]:
    code = _code_part(line)
    match = re.match(r"^(\s+\w+ = )(0|1|0\.0|1\.0)$", code)
    if match is None:
        return None
    replacement = {"0": "1", "1": "0", "0.0": "1.0", "1.0": "0.0"}[match.group(2)]
    return match.group(1) + replacement


def _missing_return(line: str) -> Optional[str]:
    """``return total`` -> ``return``: the value computed is dropped (a bare name as a statement,
    the older spelling, is a line no one writes)."""
    code = _code_part(line)
    match = re.match(r"^(\s+)return (\w+)$", code)
    return f"{match.group(1)}return" if match and match.group(2) not in ("None", "True", "False") else None


def _division_swap(line: str) -> Optional[str]:
    code = _code_part(line)
    if '"' in code or "'" in code or "#" in code:
        return None
    floor, true = code.count("//"), len(re.findall(r"(?<!/)/(?![/=])", code))
    if floor + true != 1:
        return None
    return code.replace("//", "/") if floor else re.sub(r"(?<!/)/(?![/=])", "//", code)


def _inverted_condition(line: str) -> Optional[str]:
    code = _code_part(line)
    match = re.match(r"^(\s*(?:if|elif|while) )(.+):$", code)
    if match is None or match.group(2).startswith("not ") or " and " in code or " or " in code:
        return None
    return f"{match.group(1)}not ({match.group(2)}):" if " " in match.group(2) else f"{match.group(1)}not {match.group(2)}:"


def _mutable_default(line: str) -> Optional[str]:
    code = _code_part(line)
    match = re.match(r"^(\s*def \w+\(.*?\b\w+: list(?:\[[\w, ]+\])? \| None = )None(.*)$", code)
    return f"{match.group(1)}[]{match.group(2)}" if match else None


def _early_return(line: str) -> Optional[str]:
    code = _code_part(line)
    match = re.match(r"^(\s+)continue$", code)
    return f"{match.group(1)}break" if match else None


_RESERVED = frozenset(dir(builtins)) | frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)
_ASSIGN_OPS = frozenset({"=", "+=", "-=", "*=", "/=", "//=", "%=", "**="})
_SELF_OPERATIONS = frozenset({"+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", ">", "<=", ">=",
                              "&", "|", "^", "in", "is", "and", "or"})


def _line_tokens(code: str) -> Optional[list[tokenize.TokenInfo]]:
    """Tokens of one complete logical line (``None`` for a continuation line or a broken one)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code.strip() + "\n").readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return [t for t in tokens if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER,
                                                tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT)]


def _value_names(tokens: list[tokenize.TokenInfo]) -> Optional[list[int]]:
    """Indexes of the tokens that read a plain local value on a condition, return or assignment line.

    A plain value is a lower-case name that is not called, not indexed, not an attribute owner or
    attribute, not a keyword argument, not a builtin; ALL_CAPS constants and classes are left out.
    Only the right-hand side of an assignment counts; comprehensions and lambdas are skipped.
    """
    if not tokens or any(t.string in ("lambda", "for", "def", "class", "yield", "global") for t in tokens):
        return None
    first = tokens[0].string
    if first in ("if", "elif", "while"):
        if tokens[-1].string != ":":
            return None
        start, stop = 1, len(tokens) - 1
    elif first == "return":
        start, stop = 1, len(tokens)
    else:
        depth, start = 0, -1
        for index, token in enumerate(tokens):
            if token.string in "([{" and token.type == tokenize.OP:
                depth += 1
            elif token.string in ")]}" and token.type == tokenize.OP:
                depth -= 1
            elif depth == 0 and token.type == tokenize.OP and token.string in _ASSIGN_OPS:
                start = index + 1
                break
        if start < 0 or tokens[-1].string == ":":
            return None
        stop = len(tokens)
    names = []
    for index in range(start, stop):
        token = tokens[index]
        if token.type != tokenize.NAME or token.string in _RESERVED or not token.string[0].islower():
            continue
        before = tokens[index - 1].string if index > 0 else ""
        after = tokens[index + 1].string if index + 1 < len(tokens) else ""
        if before == "." or after in ("(", "[", ".", "="):
            continue
        names.append(index)
    return names


def _wrong_variable(which: str) -> Callable[[str], Optional[str]]:
    """Replace one read of a local with another local read on the same line.

    ``last``: the last value read takes the name of the closest different one before it;
    ``first``: the first value read takes the name of the closest different one after it. The
    choice depends on token positions only, so it commutes with consistent renaming.
    """

    def rewrite(line: str) -> Optional[str]:
        code = _code_part(line)
        tokens = _line_tokens(code)
        if tokens is None:
            return None
        names = _value_names(tokens)
        if not names or len({tokens[i].string for i in names}) < 2:
            return None
        order = names[::-1] if which == "last" else names
        target = order[0]
        source = next(i for i in order[1:] if tokens[i].string != tokens[target].string)
        new_name = tokens[source].string
        # `x - x`, `x in x`: an operation of a value with itself reads as a typo, not a slip
        # (`f(x, x)` stays: passing one value twice is a plausible mistake).
        for neighbour in (target - 2, target + 2):
            middle = tokens[(target + neighbour) // 2] if 0 <= neighbour < len(tokens) else None
            if middle is not None and tokens[neighbour].string == new_name and middle.string in _SELF_OPERATIONS:
                return None
        indent = _indent(code)
        offset = len(indent)
        column = tokens[target].start[1] + offset
        changed = code[:column] + new_name + code[column + len(tokens[target].string):]
        # One value passed twice side by side (`os.path.join(root, root)`) or compared with a
        # function of itself (`n < len(n)`) reads as nonsense, not as a slip of the hand.
        for shape in (rf"\b{new_name}, {new_name}\b", rf"\b{new_name} (?:[<>]=?|[!=]=) \w+\({new_name}\)"):
            if re.search(shape, changed) and not re.search(shape, code):
                return None
        return changed

    return rewrite


_KEY_ACCESS = re.compile(r"""(\w\[|\.get\(|\.pop\()(["'])([A-Za-z_][\w\-]*)\2""")


def _wrong_dict_key(line: str, context: RewriteContext) -> Optional[str]:
    """Read (or write) another key of the module instead of the intended one: the most similar."""
    code = _code_part(line)
    if "environ" in code or re.search(r"""\b[fF][rR]?["']""", code):
        return None
    matches = list(_KEY_ACCESS.finditer(code))
    if len(matches) != 1:
        return None
    match = matches[0]
    key = match.group(3)
    others = [other for other in context.dict_keys if other != key]
    if not others:
        return None
    # The closest other key (a slip between related fields); ties go to the alphabetical first.
    best = max(sorted(others), key=lambda other: difflib.SequenceMatcher(None, key, other).ratio())
    return code[: match.start(3)] + best + code[match.end(3):]


# ---------------------------------------------------------------------- security

_EXECUTE = re.compile(r'^(\s*.*?\.execute\()"([^"]*?)\?([^"]*?)", \((\w+(?:\.\w+)*),\)\)$')


def _sql(style: str) -> Callable[[str], Optional[str]]:
    def rewrite(line: str) -> Optional[str]:
        code = _code_part(line)
        match = _EXECUTE.match(code)
        if match is None:
            return None
        head, before, after, value = match.groups()
        quoted = before.endswith(("= ", "LIKE ", "like ")) and not before.rstrip().endswith("IN")
        if style == "fstring":
            body = f"{before}'{{{value}}}'{after}" if quoted else f"{before}{{{value}}}{after}"
            return f'{head}f"{body}")'
        if style == "percent":
            body = f"{before}'%s'{after}" if quoted else f"{before}%s{after}"
            return f'{head}"{body}" % {value})'
        if style == "concat":
            open_quote = "'" if quoted else ""
            tail = f" + \"{open_quote}{after}\"" if (after or quoted) else ""
            return f'{head}"{before}{open_quote}" + str({value}){tail})'
        body = f"{before}'{{}}'{after}" if quoted else f"{before}{{}}{after}"
        return f'{head}"{body}".format({value}))'

    return rewrite


_RUN_ARGV = re.compile(r"^(\s*(?:\w+ = )?)subprocess\.run\(\[(.+?)\](.*)\)$")


def _argv_to_shell(code: str) -> Optional[tuple[str, str, str]]:
    match = _RUN_ARGV.match(code)
    if match is None:
        return None
    parts = [part.strip() for part in match.group(2).split(",")]
    words = []
    for part in parts:
        if re.fullmatch(r'"[^"{}]*"', part):
            words.append(part[1:-1])
        elif re.fullmatch(r"[\w.]+", part):
            words.append("{" + part + "}")
        else:
            return None
    if not any(word.startswith("{") for word in words):
        return None
    return match.group(1), " ".join(words), match.group(3)


def _shell_true(line: str) -> Optional[str]:
    parsed = _argv_to_shell(_code_part(line))
    if parsed is None:
        return None
    head, command, rest = parsed
    return f'{head}subprocess.run(f"{command}", shell=True{rest})'


def _os_system(line: str) -> Optional[str]:
    parsed = _argv_to_shell(_code_part(line))
    if parsed is None or parsed[0].strip():
        return None  # os.system returns an int: only where the result is unused
    head, command, _ = parsed
    return f'{head}os.system(f"{command}")'


def _replace(pattern: str, replacement: str, guard: Optional[str] = None) -> Callable[[str], Optional[str]]:
    compiled = re.compile(pattern)

    def rewrite(line: str) -> Optional[str]:
        code = _code_part(line)
        if guard is not None and not re.search(guard, code):
            return None
        if len(compiled.findall(code)) != 1:
            return None
        return compiled.sub(replacement, code)

    return rewrite


def _weak_hash(line: str) -> Optional[str]:
    code = _code_part(line)
    match = re.search(r'hashlib\.pbkdf2_hmac\("sha256", ([^,]+), ([^,]+), [\d_]+\)', code)
    if match is None:
        return None
    return code[: match.start()] + f"hashlib.md5({match.group(2)} + {match.group(1)}).digest()" + code[match.end():]


def _insecure_token(line: str) -> Optional[str]:
    code = _code_part(line)
    match = re.search(r"secrets\.token_(hex|urlsafe)\((\d+)\)", code)
    if match is None:
        return None
    size = int(match.group(2))
    return code[: match.start()] + f'"%0{size * 2}x" % random.getrandbits({size * 8})' + code[match.end():]


def _hardcoded_secret(line: str) -> Optional[str]:
    code = _code_part(line)
    match = re.match(r'^(\s*\w*(?:SECRET|TOKEN|PASSWORD|API_KEY)\w* = )os\.environ(?:\[|\.get\()"(\w+)"(?:, "[^"]*")?[\])]$', code)
    if match is None:
        return None
    literal = "s3cr3t-" + match.group(2).lower().replace("_", "-") + "-2024"
    return f'{match.group(1)}"{literal}"'


def _xss(line: str) -> Optional[str]:
    code = _code_part(line)
    if "<" not in code or "html.escape(" not in code or code.count("html.escape(") != 1:
        return None
    return re.sub(r"html\.escape\(([^()]*(?:\([^()]*\))?[^()]*)\)", r"\1", code)


def _path_traversal(line: str) -> Optional[str]:
    code = _code_part(line)
    if "def resolve_inside" in code or code.count("resolve_inside(") != 1:
        return None
    return code.replace("resolve_inside(", "os.path.join(")


def _open_redirect(line: str) -> Optional[str]:
    code = _code_part(line)
    match = re.match(r"^(\s*)if not is_local_url\((\w+)\): \2 = .+$", code)
    return f"{match.group(1)}pass  # redirect target accepted as given" if match else None


def _assert_authz(line: str) -> Optional[str]:
    code = _code_part(line)
    match = re.match(r'^(\s*)if not (.+?): raise PermissionError\((.*)\)$', code)
    if match is None:
        return None
    message = match.group(3) or '"forbidden"'
    return f"{match.group(1)}assert {match.group(2)}, {message}"


_EXTERNAL_GES = re.compile(r"^(\s*)(\w+)\.setFeature\((?:xml\.sax\.handler\.|handler\.)?feature_external_ges, False\)$")


def _external_entities(spelling: str) -> Callable[[str], Optional[str]]:
    """Turn on external general entities of a SAX parser: the document can then read local files."""

    def rewrite(line: str) -> Optional[str]:
        match = _EXTERNAL_GES.match(_code_part(line))
        if match is None:
            return None
        indent, parser = match.groups()
        if spelling == "constant":
            return _code_part(line)[: -len("False)")] + "True)"
        return f'{indent}{parser}.setFeature("http://xml.org/sax/features/external-general-entities", True)'

    return rewrite


SYNTAX = IssueType.SYNTAX_ERROR
LOGIC = IssueType.LOGIC_BUG
SECURITY = IssueType.SECURITY_VULNERABILITY

_SECURITY_CHECK = re.compile(
    r"\bcommonpath\(|\.is_relative_to\(|\.relative_to\(|\.resolve\(|\b(?:realpath|abspath|normpath)\("
    r"|\.startswith\([^)]*\b(?:root|base|os\.sep)\b"
    r"|\bcompare_digest\(|\bis_admin\b|\bis_staff\b|\bPermissionError\b"
)


def is_security_check(line: str) -> bool:
    """Whether ``line`` confines a path, compares a credential or authorises a caller."""
    return _SECURITY_CHECK.search(_code_part(line)) is not None


def _sparing_security_checks(variant: Variant) -> Variant:
    """``variant`` made to skip security checks (see the module docstring)."""
    inner = variant.rewrite

    def rewrite(line: str, *context: RewriteContext) -> Optional[str]:
        return None if is_security_check(line) else inner(line, *context)

    return dataclasses.replace(variant, rewrite=rewrite)


def _op(name: str, issue_type: IssueType, severity: Severity, description: str,
        *variants: Variant, **extra: object) -> Operator:
    if issue_type is LOGIC:
        variants = tuple(_sparing_security_checks(variant) for variant in variants)
    return Operator(name=name, issue_type=issue_type, severity=severity, description=description,
                    variants=tuple(variants), **extra)  # type: ignore[arg-type]


OPERATORS: tuple[Operator, ...] = (
    # syntax
    _op("missing_colon", SYNTAX, Severity.HIGH, "Missing colon at the end of the block header.",
        Variant("drop", _missing_colon)),
    _op("unclosed_paren", SYNTAX, Severity.HIGH, "Unclosed parenthesis.",
        Variant("drop", _drop_last_closer(")")), trailing_accepted=1),
    _op("unclosed_bracket", SYNTAX, Severity.HIGH, "Unclosed square bracket.",
        Variant("drop", _drop_last_closer("]"), splits=HELD_OUT), trailing_accepted=1),
    _op("unclosed_string", SYNTAX, Severity.HIGH, "Unterminated string literal.",
        Variant("drop", _unclosed_string)),
    _op("bad_indent", SYNTAX, Severity.MEDIUM, "Unexpected indentation.", Variant("shift", _bad_indent)),
    _op("missing_comma", SYNTAX, Severity.MEDIUM, "Missing comma between items.",
        Variant("drop", _missing_comma)),
    _op("assign_in_condition", SYNTAX, Severity.HIGH, "Assignment `=` used where the comparison `==` is meant.",
        Variant("single", _assign_in_condition)),
    _op("missing_in_keyword", SYNTAX, Severity.MEDIUM, "`for` loop without the `in` keyword.",
        Variant("drop", _missing_in)),
    _op("missing_def_keyword", SYNTAX, Severity.HIGH, "Function definition without the `def` keyword.",
        Variant("drop", _missing_def, splits=HELD_OUT)),
    _op("unterminated_triple_quote", SYNTAX, Severity.HIGH, "Docstring without its closing triple quote.",
        Variant("drop", _unterminated_docstring), compile_names_site=False),
    # logic
    _op("flip_comparison", LOGIC, Severity.HIGH, "Comparison operator reversed: the condition selects the wrong cases.",
        Variant("negate", _comparison(_FLIP))),
    _op("weaken_comparison", LOGIC, Severity.MEDIUM, "Boundary comparison off by one (strict vs inclusive).",
        Variant("boundary", _comparison(_WEAKEN))),
    _op("range_off_by_one", LOGIC, Severity.HIGH, "Off-by-one in the loop range.",
        Variant("stop_minus", _range_off_by_one("- 1")), Variant("stop_plus", _range_off_by_one("+ 1"), splits=HELD_OUT),
        Variant("start", _range_off_by_one("start"))),
    _op("slice_off_by_one", LOGIC, Severity.MEDIUM, "Off-by-one in the slice bound.", Variant("upper", _slice_off_by_one)),
    _op("and_or_swap", LOGIC, Severity.HIGH, "`and` and `or` swapped in the condition.", Variant("swap", _and_or_swap)),
    _op("wrong_initial_accumulator", LOGIC, Severity.MEDIUM, "Accumulator starts from the wrong value.",
        Variant("swap01", _wrong_initial)),
    _op("missing_return", LOGIC, Severity.HIGH, "The computed value is not returned (the function returns None).",
        Variant("drop", _missing_return)),
    _op("division_swap", LOGIC, Severity.MEDIUM, "Integer and true division confused.", Variant("swap", _division_swap)),
    _op("inverted_condition", LOGIC, Severity.HIGH, "Condition inverted.", Variant("not", _inverted_condition, splits=HELD_OUT)),
    _op("mutable_default", LOGIC, Severity.MEDIUM, "Mutable default argument shared between calls.",
        Variant("list", _mutable_default)),
    _op("early_exit_in_loop", LOGIC, Severity.HIGH, "`break` where the loop should `continue`: later items are skipped.",
        Variant("break", _early_return)),
    _op("wrong_variable", LOGIC, Severity.HIGH, "Wrong variable: another local is used where this value is meant.",
        Variant("last", _wrong_variable("last")), Variant("first", _wrong_variable("first"), splits=HELD_OUT)),
    _op("wrong_dict_key", LOGIC, Severity.HIGH, "Wrong dictionary key: another field of the record is read or written.",
        Variant("similar", _wrong_dict_key, contextual=True)),
    # security
    _op("sql_injection", SECURITY, Severity.CRITICAL, "SQL query built from input instead of a bound parameter.",
        Variant("fstring", _sql("fstring")), Variant("percent", _sql("percent")), Variant("concat", _sql("concat")),
        Variant("format", _sql("format"), splits=HELD_OUT), cwe="CWE-89"),
    _op("command_injection", SECURITY, Severity.CRITICAL, "Shell command built from input.",
        Variant("shell_true", _shell_true), Variant("os_system", _os_system, splits=HELD_OUT),
        cwe="CWE-78", requires_import="os"),
    _op("eval_injection", SECURITY, Severity.CRITICAL, "`eval` of input instead of a literal parser.",
        Variant("eval", _replace(r"\bast\.literal_eval\(", "eval(")), cwe="CWE-95"),
    _op("unsafe_deserialisation", SECURITY, Severity.CRITICAL, "Untrusted data deserialised with an unsafe loader.",
        Variant("pickle", _replace(r"\bjson\.loads\(", "pickle.loads(")),
        Variant("yaml", _replace(r"\byaml\.safe_load\((\w+)\)", r"yaml.load(\1, Loader=yaml.Loader)"), splits=HELD_OUT),
        cwe="CWE-502"),
    _op("weak_password_hash", SECURITY, Severity.HIGH, "Password hashed with MD5 instead of a slow salted KDF.",
        Variant("md5", _weak_hash), cwe="CWE-328"),
    _op("insecure_token", SECURITY, Severity.HIGH, "Security token drawn from the non-cryptographic `random` module.",
        Variant("getrandbits", _insecure_token), cwe="CWE-330", requires_import="random"),
    _op("hardcoded_secret", SECURITY, Severity.HIGH, "Secret hard-coded in the source.",
        Variant("literal", _hardcoded_secret), cwe="CWE-798"),
    _op("tls_verification_disabled", SECURITY, Severity.HIGH, "TLS certificate verification disabled.",
        Variant("verify_false", _replace(r"\btimeout=(\d+)\)$", r"timeout=\1, verify=False)", guard=r"requests\.\w+\(")),
        cwe="CWE-295"),
    _op("insecure_temp_file", SECURITY, Severity.MEDIUM, "Temporary file name from `tempfile.mktemp` (race condition).",
        Variant("mktemp", _replace(r"^(\s*)fd, (\w+) = tempfile\.mkstemp\(", r"\1fd, \2 = None, tempfile.mktemp(")),
        cwe="CWE-377"),
    _op("assert_authorisation", SECURITY, Severity.HIGH, "Authorisation checked with `assert` (removed under -O).",
        Variant("assert", _assert_authz), cwe="CWE-703"),
    _op("reflected_xss", SECURITY, Severity.HIGH, "HTML built from input without escaping.",
        Variant("unescaped", _xss), cwe="CWE-79"),
    _op("path_traversal", SECURITY, Severity.HIGH, "File path joined from input without confinement.",
        Variant("join", _path_traversal), cwe="CWE-22"),
    _op("open_redirect", SECURITY, Severity.MEDIUM, "Redirect target taken from input unchecked.",
        Variant("unchecked", _open_redirect), cwe="CWE-601"),
    _op("debug_enabled", SECURITY, Severity.HIGH, "Web server started in debug mode (remote code execution).",
        Variant("debug_true", _replace(r"\bdebug=False\b", "debug=True", guard=r"\.run\(")), cwe="CWE-94"),
    _op("xml_external_entities", SECURITY, Severity.HIGH,
        "XML parser resolves external entities (XXE): a document can read local files or reach internal URLs.",
        Variant("feature_true", _external_entities("constant")),
        Variant("feature_uri", _external_entities("uri"), splits=HELD_OUT), cwe="CWE-611"),
)

# Vulnerabilities found by reading, not by grep, each proved by an exploit; kept in modules of
# their own, which build on the definitions above.
from app.env.corpus.operators_access import ACCESS_OPERATORS  # noqa: E402
from app.env.corpus.operators_web import WEB_OPERATORS  # noqa: E402
from app.env.corpus.operators_span import SPAN_OPERATORS  # noqa: E402

OPERATORS = (*OPERATORS, *ACCESS_OPERATORS, *WEB_OPERATORS, *SPAN_OPERATORS)
OPERATORS_BY_NAME: dict[str, Operator] = {operator.name: operator for operator in OPERATORS}


def operators_for(issue_type: IssueType) -> list[Operator]:
    """The operators of one category."""
    return [operator for operator in OPERATORS if operator.issue_type is issue_type]
