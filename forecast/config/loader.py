"""Loading a config: safe YAML, `--set` overrides, and validation errors named by dotted key.

The schema itself lives in `forecast.config.schema`; this module turns files and overrides into a
validated `Config`. It must stay free of TensorFlow/Keras: `forecast validate` and `--help` use it.
"""

from __future__ import annotations

import difflib
import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from forecast.config.schema import Config
from forecast.errors import ForecastError

__all__ = ["apply_override", "dotted", "load", "parse_yaml", "read_yaml", "resolve_data_path", "validate"]


def short(value: Any, limit: int = 60) -> str:
    """repr(value), cut to `limit` characters: an error line echoes input, never all of it."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Nodes a config may hold once YAML aliases are expanded: a real config has a few hundred; a
# "billion laughs" document of a few hundred bytes has billions.
MAX_NODES = 100_000
# A real config nests 4 deep and is a few kB; deeper would exhaust PyYAML's recursive composer
# (a RecursionError), and a larger file is not a config.
MAX_DEPTH = 100
MAX_BYTES = 10 * 2**20


def _check_size(raw: Any, source: str) -> None:
    """Refuse a document whose aliases expand it past MAX_NODES, before anything walks it whole."""
    count, stack = 0, [raw]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ForecastError(f"{source}: the config expands to more than {MAX_NODES:,} values (YAML aliases?)")
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def dotted(loc: tuple[str | int, ...]) -> str:
    """('model', 'layers', 1, 'units') -> 'model.layers[1].units'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "config"


def section_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The schema class that sits at `loc`, to list its keys in an 'unknown key' message (and for
    tests/test_config.py, which checks that the example config shows every section's keys)."""
    cls: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = cls.model_fields.get(part)
        if field is None:
            return None
        candidates = [field.annotation]
        cls = None
        while candidates:
            tp = candidates.pop()
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                cls = tp
                break
            candidates.extend(typing.get_args(tp))
        if cls is None:
            return None
    return cls


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        section = section_at(loc[:-1])
        allowed = sorted(section.model_fields) if section else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}"
        return f"{dotted(loc)}: unknown key ({hint})"
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] not in ("value_error", "missing") and "input" in error:
        msg += f" (got {short(error['input'])})"
    return f"{dotted(loc)}: {msg}" if loc else msg


def validate(raw: Any, source: str = "config") -> Config:
    """Validate a parsed YAML document; errors become one ForecastError naming the first bad key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ForecastError(f"{source}: the config must be a YAML mapping of keys, not {type(raw).__name__}")
    _check_size(raw, source)
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ForecastError(f"{source}: {_describe(errors[0])}{more}") from None


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `3e-4` as a float (YAML 1.1 wants `3.0e-4`, and ML configs don't),
    and refuses a key given twice in one mapping (PyYAML would silently keep the last) or nesting
    deeper than MAX_DEPTH."""

    _depth = 0

    def compose_node(self, parent, index):
        if self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {short(key)} at line {mark.line + 1}", mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _parse_key(key: str, option: str = "--set") -> list[str | int]:
    parts: list[str | int] = []
    pos = 0
    for match in _TOKEN.finditer(key):
        between = key[pos : match.start()]
        if between not in ("", "."):
            break
        parts.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        pos = match.end()
    if not parts or pos != len(key):
        raise ForecastError(f"{option} {key}: not a dotted key like model.layers[0].units")
    return parts


def apply_override(raw: dict[str, Any], assignment: str, option: str = "--set") -> None:
    """Apply one `--set key.path=value`; the value is parsed as YAML (so 32, 1e-3, true, [1, 2] work),
    and taken as a string when it is not valid YAML (`--set data.time_format=%Y`)."""
    key, sep, text = assignment.partition("=")
    if not sep:
        raise ForecastError(f"{option} {assignment}: expected key.path=value")
    parts = _parse_key(key.strip(), option)
    try:
        value = parse_yaml(text)
    except yaml.YAMLError:  # '%Y', '@home', 'a: b: c': not YAML, so the text itself
        value = text
    node: Any = raw
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = dotted(tuple(parts[: i + 1]))
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                size = len(node) if isinstance(node, list) else 0
                raise ForecastError(f"{option} {key}: {where} does not exist (the list has {size} items)")
        elif not isinstance(node, dict):
            raise ForecastError(f"{option} {key}: {dotted(tuple(parts[:i]))} is not a mapping")
        if last:
            node[part] = value
        else:
            if isinstance(node, dict) and not isinstance(node.get(part), (dict, list)):
                node[part] = {}
            node = node[part]


def read_yaml(path: Path) -> Any:
    """Safe-load a YAML file: Python object tags are refused, not executed."""
    try:
        with open(path, "rb") as stream:
            raw = stream.read(MAX_BYTES + 1)  # no more than that, whatever the file (or FIFO) holds
        text = raw.decode()
    except FileNotFoundError:
        raise ForecastError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ForecastError(f"{path}: cannot read config ({exc})") from None
    if len(raw) > MAX_BYTES:
        raise ForecastError(f"{path}: larger than {MAX_BYTES // 2**20} MB, too large for a config")
    try:
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ForecastError(f"{path}: invalid YAML{where}: {problem}") from None


def resolve_data_path(path: str, config_dir: Path) -> Path:
    """Beside the config file first, then the working directory; absolute paths as they are."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate
    for base in (config_dir, Path.cwd()):
        if (base / candidate).exists():
            return (base / candidate).resolve()
    return (config_dir / candidate).resolve()


# Keys whose default validation derives from other keys (instance_norm from data.targets, the loss
# and intervals from model.quantiles): left for validation to decide again after overrides.
DERIVED = ("model.instance_norm", "training.loss", "intervals.method", "intervals.levels")


def load(path: Path | str, overrides: list[str] | tuple[str, ...] = (), option: str = "--set") -> Config:
    """Read, override and validate a config file; data.path comes back absolute.

    Args:
        path: the YAML file.
        overrides: `key.path=value` assignments.
        option: how errors name the overrides (`--set`, or `--grid` for a sweep's trials).
    """
    path = Path(path)
    document = read_yaml(path)
    config = validate(document, str(path))
    overridden = {a.partition("=")[0].strip() for a in overrides}
    defaulted = "path" not in config.data.model_fields_set and not overridden & {"data", "data.path"}
    if overrides:
        raw = config.model_dump(exclude_none=True)
        for key in DERIVED:  # a default (or null) that depends on other keys, which overrides may change
            section, name = key.split(".")
            given = isinstance(document, dict) and isinstance(document.get(section), dict)
            if not (given and document[section].get(name) is not None) and not overridden & {section, key}:
                raw.get(section, {}).pop(name, None)
        for assignment in overrides:
            apply_override(raw, assignment, option)
        config = validate(raw, f"{path} with {option}")
    resolved = resolve_data_path(config.data.path, path.resolve().parent)
    config = config.model_copy(update={"data": config.data.model_copy(update={"path": str(resolved)})})
    if defaulted:
        config.notes.append(f"{path.name} sets no data.path: using the default, the embedded ETTh1 sample")
    return config
