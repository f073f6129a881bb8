"""Safe YAML loading that keeps source positions and stays bounded on hostile input.

Run configs are edited by hand and opened by the editor on every keystroke, so loading must
answer every input with a positioned `Problem`, never a traceback, in bounded time and memory:

- size limits come first (file bytes, then scalar length and node count in a streaming pre-scan);
- nesting depth is checked on parse events, because PyYAML's composer recurses per level;
- aliases are allowed (anchors are handy in configs) but expansion is counted, so an alias
  bomb stops after `MAX_NODES` values instead of exhausting memory;
- duplicate keys, which PyYAML silently merges, are reported with both positions.

Scalars follow the YAML 1.2 core schema (as the editor's YAML parser does), not PyYAML's
YAML 1.1 defaults: `no`/`on` stay strings (`eval.strategy: no`), `24:00:00` is not a
sexagesimal int and `2e-4` is a float. Otherwise the CLI and the editor would disagree.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from medvlm_sft.config.problems import Problem, Span, YamlPath, dotted

MAX_FILE_BYTES = 1024 * 1024
MAX_SCALAR_CHARS = 64 * 1024
MAX_DEPTH = 64
MAX_NODES = 100_000

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


def _core_schema_loader(base: type) -> type:
    class Loader(base):  # type: ignore[misc, valid-type]
        yaml_implicit_resolvers: dict = {}  # noqa: RUF012 - PyYAML's class-level registry

    Loader.add_implicit_resolver(_TAG + "merge", re.compile(r"^<<$"), ["<"])
    Loader.add_implicit_resolver(_TAG + "null", _NULL_RE, ["~", "n", "N", ""])
    Loader.add_implicit_resolver(_TAG + "bool", _BOOL_RE, list("tTfF"))
    Loader.add_implicit_resolver(_TAG + "int", _INT_RE, list("-+0123456789"))
    Loader.add_implicit_resolver(_TAG + "float", _FLOAT_RE, list("-+0123456789."))
    return Loader


def plain_scalar_kind(text: str) -> str | None:
    """What `text` written unquoted reads as (YAML 1.2 core): `null`, `bool`, `int`, `float`, or None for text."""
    for kind, pattern in (("null", _NULL_RE), ("bool", _BOOL_RE), ("int", _INT_RE), ("float", _FLOAT_RE)):
        if pattern.match(text):
            return kind
    return None


ConfigLoader = _core_schema_loader(_BaseLoader)
# Pure-Python twin: its error messages name the offending character, libyaml's do not.
_PyConfigLoader = ConfigLoader if _BaseLoader is yaml.SafeLoader else _core_schema_loader(yaml.SafeLoader)


@dataclass
class YamlDocument:
    """Plain Python values of a config plus where each path's key and value sit in the text."""

    value: dict[str, Any]
    lines: list[str]
    value_spans: dict[YamlPath, Span] = field(default_factory=dict)
    key_spans: dict[YamlPath, Span] = field(default_factory=dict)
    # Paths already reported while loading (bad tags, duplicates), so schema errors there are noise.
    reported: set[YamlPath] = field(default_factory=set)

    def head(self, span: Span) -> Span:
        """The first line of a possibly multi-line range, so a diagnostic does not paint a whole block."""
        if span.end_line == span.line:
            return span
        text = self.lines[span.line] if span.line < len(self.lines) else ""
        end = max(len(text.rstrip()), span.column + 1)
        return Span(span.line, span.column, span.line, end)

    def locate(self, path: YamlPath, *, key: bool = False) -> Span:
        """Range of `path`'s value (or key); for an absent path, its nearest present ancestor's key or first line."""
        if path in self.value_spans:
            if key and path in self.key_spans:
                return self.key_spans[path]
            span = self.value_spans[path]
            if (span.line, span.column) == (span.end_line, span.end_column):  # `key:` with an empty value
                return self.key_spans.get(path, Span.point(span.line, span.column))
            return span
        return self.locate_parent(path)

    def locate_parent(self, path: YamlPath) -> Span:
        for depth in range(len(path) - 1, -1, -1):
            ancestor = path[:depth]
            if ancestor in self.key_spans:
                return self.key_spans[ancestor]
            if ancestor in self.value_spans:
                return self.head(self.value_spans[ancestor])
        return Span.point()


class _Stop(Exception):
    """A limit was hit while building values; carries the problem that ends loading."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def span_of_offset(text: str, offset: int) -> Span:
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    return Span.point(line, column)


def _mark_span(mark: Any) -> Span:
    if mark is None:
        return Span.point()
    return Span.point(max(mark.line, 0), max(mark.column, 0))


def read_config_bytes(path: Path) -> bytes:
    """Read at most one byte past the limit, so a huge file or a device never fills memory."""
    with open(path, "rb") as fh:
        return fh.read(MAX_FILE_BYTES + 1)


def decode_config(data: bytes) -> tuple[str | None, list[Problem]]:
    if len(data) > MAX_FILE_BYTES:
        return None, [_too_large()]
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as err:
        prefix = data[: err.start].decode("utf-8", errors="replace")
        span = span_of_offset(prefix, len(prefix))
        message = f"binary or non-UTF-8 content (byte 0x{data[err.start]:02x}); a run config must be UTF-8 text"
        return None, [Problem.at(span, "", message, "yaml-binary")]


def _too_large() -> Problem:
    message = f"the file is larger than {MAX_FILE_BYTES // 1024} KiB; a run config is a few KiB of YAML"
    return Problem.at(None, "", message, "yaml-too-large")


def load_yaml_text(text: str) -> tuple[YamlDocument | None, list[Problem]]:
    """Parse config text into a `YamlDocument`; `None` when loading stopped at a fatal problem."""
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", errors="surrogatepass")) > MAX_FILE_BYTES:
        return None, [_too_large()]
    bad = _NON_PRINTABLE.search(text)
    if bad:
        char = bad.group()
        message = f"binary or non-UTF-8 content (character U+{ord(char):04X}); a run config must be plain text"
        return None, [Problem.at(span_of_offset(text, bad.start()), "", message, "yaml-binary")]
    try:
        root = _scan_and_compose(text, ConfigLoader)
    except _Stop as stop:
        return None, [stop.problem]
    except yaml.MarkedYAMLError as err:
        return None, [_syntax_problem(text, _nicer_error(text, err))]
    except yaml.YAMLError as err:  # a ReaderError slipped past the character check
        return None, [Problem.at(None, "", f"binary or non-UTF-8 content: {err}", "yaml-binary")]
    lines = text.split("\n")
    if root is None:
        message = "the file is empty; a run config needs at least `model.base` and `data.sources`"
        return None, [Problem.at(None, "", message, "yaml-empty")]
    if not isinstance(root, yaml.MappingNode):
        kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        message = f"the top level is {kind}; a run config is a mapping of sections such as `model:` and `data:`"
        return None, [Problem.at(_node_span(root, lines), "", message, "yaml-not-mapping")]
    doc = YamlDocument(value={}, lines=lines)
    builder = _Builder(doc)
    try:
        doc.value = builder.build(root, (), 0)
    except _Stop as stop:
        return None, [*builder.problems, stop.problem]
    return doc, builder.problems


def _scan_and_compose(text: str, loader: type) -> yaml.Node | None:
    """Check depth, scalar size and node count on the event stream (iterative), then compose."""
    depth = nodes = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            nodes += 1
            if depth > MAX_DEPTH:
                message = f"nesting deeper than {MAX_DEPTH} levels; a run config is a few levels deep"
                raise _Stop(Problem.at(_mark_span(event.start_mark), "", message, "yaml-too-deep"))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if len(event.value) > MAX_SCALAR_CHARS:
                message = (
                    f"a value of {len(event.value)} characters (the limit is {MAX_SCALAR_CHARS // 1024} KiB); "
                    "put long content in a file and give its path"
                )
                raise _Stop(Problem.at(_mark_span(event.start_mark), "", message, "yaml-value-too-long"))
        elif isinstance(event, yaml.AliasEvent):
            nodes += 1
        if nodes > MAX_NODES:
            message = f"more than {MAX_NODES} values; a run config has a few hundred"
            raise _Stop(Problem.at(_mark_span(event.start_mark), "", message, "yaml-too-many-values"))
    return yaml.compose(text, Loader=loader)


def _nicer_error(text: str, err: yaml.MarkedYAMLError) -> yaml.MarkedYAMLError:
    if _PyConfigLoader is ConfigLoader:
        return err
    try:
        _scan_and_compose(text, _PyConfigLoader)
    except yaml.MarkedYAMLError as py_err:
        same_line = py_err.problem_mark and err.problem_mark and py_err.problem_mark.line == err.problem_mark.line
        return py_err if same_line else err
    except (_Stop, yaml.YAMLError):
        return err
    return err


def _syntax_problem(text: str, err: yaml.MarkedYAMLError) -> Problem:
    mark = err.problem_mark or err.context_mark
    span = _mark_span(mark)
    lines = text.split("\n")
    line = lines[span.line] if span.line < len(lines) else ""
    at_tab = line[span.column : span.column + 1] == "\t" or "\t" in line[: len(line) - len(line.lstrip())]
    problem = (err.problem or err.context or "invalid YAML").replace("\t", "\\t")
    if at_tab or "tab" in problem:
        message = f"{problem}: YAML indentation must use spaces, not tabs"
        return Problem.at(span, "", message, "yaml-tab")
    if isinstance(err, yaml.composer.ComposerError) and "another document" in problem:
        message = "a run config is a single YAML document; remove the `---` separator and what follows or merge it"
        return Problem.at(span, "", message, "yaml-syntax")
    message = f"YAML syntax error: {problem}"
    if err.context and err.problem:
        where = ""
        if err.context_mark is not None and err.context_mark.line != span.line:
            where = f" that starts on line {err.context_mark.line + 1}"
        message += f" ({err.context}{where})"
    return Problem.at(span, "", message, "yaml-syntax")


def _node_span(node: yaml.Node, lines: list[str]) -> Span:
    start, end = node.start_mark, node.end_mark
    end_line, end_column = end.line, end.column
    # Block collections end where the next token starts, often lines below after blanks and comments.
    if end_column == 0 and end_line > start.line:
        end_line -= 1
        while end_line > start.line and _is_blank_or_comment(lines, end_line):
            end_line -= 1
        end_column = len(lines[end_line].rstrip()) if end_line < len(lines) else 0
        if end_line == start.line:
            end_column = max(end_column, start.column + 1)
    return Span(start.line, start.column, end_line, end_column)


def _is_blank_or_comment(lines: list[str], index: int) -> bool:
    stripped = lines[index].strip() if index < len(lines) else ""
    return not stripped or stripped.startswith("#")


class _Builder:
    """Turns composed nodes into Python values, counting every value an alias expands to."""

    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.count = 0
        self.problems: list[Problem] = []

    def report(self, node: yaml.Node, path: YamlPath, message: str, code: str) -> None:
        self.doc.reported.add(path)
        self.problems.append(Problem.at(_node_span(node, self.doc.lines), dotted(path), message, code))

    def build(self, node: yaml.Node, path: YamlPath, depth: int) -> Any:
        self.tick(node, path, depth)
        self.doc.value_spans.setdefault(path, _node_span(node, self.doc.lines))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if node.tag not in (_TAG + "seq", _TAG + "map"):
            self.report(node, path, f"unsupported YAML tag `{node.tag}`; a run config uses plain values", "yaml-tag")
            return None
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*path, index), depth + 1) for index, child in enumerate(node.value)]
        return self.mapping(node, path, depth)

    def tick(self, node: yaml.Node, path: YamlPath, depth: int) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            message = (
                f"aliases expand to more than {MAX_NODES} values (an alias bomb?); "
                "a run config has a few hundred, so use fewer nested aliases"
            )
            raise _Stop(Problem.at(self.entry_span(node, path), dotted(path[:1]), message, "yaml-too-many-values"))
        if depth > MAX_DEPTH:
            message = f"aliases nest deeper than {MAX_DEPTH} levels (a recursive alias?)"
            raise _Stop(Problem.at(self.entry_span(node, path), dotted(path[:1]), message, "yaml-too-deep"))

    def entry_span(self, node: yaml.Node, path: YamlPath) -> Span:
        """Blame the top-level entry whose aliases blew up, not a node deep inside the anchor."""
        return self.doc.key_spans.get(path[:1]) or _node_span(node, self.doc.lines)

    def mapping(self, node: yaml.MappingNode, path: YamlPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first: dict[str, yaml.Node] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                merges.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.report(key_node, path, "a key must be a plain name, not a list or mapping", "yaml-complex-key")
                continue
            self.count += 1
            key = key_node.value
            child = (*path, key)
            if key in first:
                message = (
                    f"duplicate key `{key}` (first defined on line {first[key].start_mark.line + 1}); "
                    "YAML keeps only the last one, so remove or merge the two"
                )
                self.report(key_node, child, message, "yaml-duplicate-key")
                self.doc.key_spans[child] = _node_span(key_node, self.doc.lines)
                self.doc.value_spans[child] = _node_span(value_node, self.doc.lines)
            else:
                first[key] = key_node
                self.doc.key_spans.setdefault(child, _node_span(key_node, self.doc.lines))
            out[key] = self.build(value_node, child, depth + 1)
        # Explicit keys win over merged ones, and earlier merge sources over later ones (YAML merge rules).
        for merge_node in merges:
            sources = merge_node.value if isinstance(merge_node, yaml.SequenceNode) else [merge_node]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    self.report(source, path, "`<<` merges need a mapping or a list of mappings", "yaml-merge")
                    continue
                self.tick(source, path, depth + 1)
                for key, value in self.mapping(source, path, depth + 1).items():
                    out.setdefault(key, value)
        return out

    def scalar(self, node: yaml.ScalarNode, path: YamlPath) -> Any:
        tag, text = node.tag, node.value
        try:
            if tag == _TAG + "str":
                return text
            if tag == _TAG + "null" and _NULL_RE.match(text):
                return None
            if tag == _TAG + "bool" and _BOOL_RE.match(text):
                return text.lower() == "true"
            if tag == _TAG + "int" and _INT_RE.match(text):
                return _parse_int(text)
            if tag == _TAG + "float" and (_FLOAT_RE.match(text) or _INT_RE.match(text)):
                return _parse_float(text)
        except ValueError as err:
            self.report(node, path, f"cannot read `{text[:40]}` as a number: {err}", "yaml-bad-number")
            return None
        if tag in (_TAG + s for s in ("null", "bool", "int", "float")):
            kind = tag.rsplit(":", 1)[1]
            self.report(node, path, f"`{text[:40]}` is not a valid {kind}", "yaml-tag")
        else:
            self.report(node, path, f"unsupported YAML tag `{tag}`; a run config uses plain values", "yaml-tag")
        return None


def _parse_int(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body.startswith("0o"):
        return int(body[2:], 8)
    if body.startswith("0x"):
        return int(body[2:], 16)
    if len(body) > 100:  # also keeps clear of Python's 4300-digit int conversion limit
        raise ValueError(f"{len(body)} digits is too many")
    return sign * int(body, 10)


def _parse_float(text: str) -> float:
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(text)
