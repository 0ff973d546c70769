"""The engagement YAML's text as a Python value: read within the limits, in UTF-8, and refusing
what PyYAML lets through silently (aliases that expand without end, a key given twice, a
mapping key read as a boolean, a date typo that crashes its reader). The schema that checks the
value is :mod:`toolkit.io.config`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from toolkit.base.exceptions import ConfigError
from toolkit.io.limits import (
    MAX_YAML_BYTES,
    MAX_YAML_NODES,
    LimitError,
    check_regular_file,
)

__all__ = ["read_yaml"]


def read_yaml(path: Path) -> Any:
    """The engagement file's YAML document as a Python value, dates and times kept as text.

    Parameters
    ----------
    path : Path
        The engagement YAML.

    Returns
    -------
    object
        The document (a mapping for an engagement file; the caller checks).

    Raises
    ------
    ConfigError
        The file is missing, too big, not UTF-8, not valid YAML, nested too deeply, expands to
        too many values through its aliases or repeats a key; each names the line and the fix.
    """
    text = _read_yaml_text(path)
    try:
        document = yaml.compose(text, Loader=yaml.SafeLoader)
        _refuse_expansion(document, path=path)
        _refuse_duplicate_keys(document, path=path)
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader, dates kept as text)
    except RecursionError:
        raise ConfigError("the YAML is nested too deeply to be an engagement file", file=str(path),
                          fix="check the indentation and brackets") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{where}not valid YAML ({getattr(exc, 'problem', exc)})", file=str(path),
                          fix="check the indentation and quoting on that line") from None


def _refuse_expansion(root: yaml.Node | None, *, path: Path) -> None:
    """Refuse a document that aliases (`&a` / `*a`) expand to more than MAX_YAML_NODES nodes: a
    600-byte "billion laughs" file would otherwise be walked (and validated, and dumped) billions
    of times. Counted once per distinct node, so the check itself stays linear."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = 1  # a node that contains itself (a recursive alias) counts once
        total = 1
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        for child in children:
            total += size(child)
            if total > MAX_YAML_NODES:
                break
        sizes[id(node)] = total
        return total

    if root is not None and size(root) > MAX_YAML_NODES:
        raise ConfigError(
            f"the YAML expands to more than {MAX_YAML_NODES:,} values through its aliases "
            f"(`&name` / `*name`), far more than any engagement needs", file=str(path),
            fix="write the values out instead of nesting aliases (an engagement file needs none)")


def _refuse_duplicate_keys(node: yaml.Node | None, *, path: Path, where: str = "",
                           seen_nodes: set[int] | None = None) -> None:
    """PyYAML keeps the last of two equal keys without a word; a stage mapped twice would then
    silently lose one mapping. Walk the parsed document and refuse any repeated key (each node
    once, however often an alias repeats it)."""
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            child = f"{where}.{key}" if where else str(key)
            if key is not None and key in seen:
                raise ConfigError(
                    f"line {line}: {key!r} appears more than once under "
                    f"`{where or '<top>'}` (first on line {seen[key]}); YAML would silently keep "
                    f"only the last one", file=str(path), key=where or None,
                    fix=f"keep one {key!r} entry (merge the two, or delete the wrong one)")
            if key is not None:
                seen[key] = line
            _refuse_duplicate_keys(value_node, path=path, where=child, seen_nodes=seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicate_keys(item, path=path, where=f"{where}[{i}]", seen_nodes=seen_nodes)


class _EngagementLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading a mapping's keys as YAML 1.2 does: `on`, `off`, `yes`, `no`
    (and `y`, `n`, any case) are words there, booleans only in YAML 1.1. A lookup's `on: agent`
    or a CRM stage called `No` would otherwise become the key `True`/`False` ("Keys should be
    strings"). Values keep PyYAML's reading: `fold_categories: no` still means false."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        for key_node, _value in node.value:
            if (isinstance(key_node, yaml.ScalarNode) and key_node.tag == "tag:yaml.org,2002:bool"
                    and key_node.style is None and key_node.value.lower() not in ("true", "false")):
                key_node.tag = "tag:yaml.org,2002:str"
        return super().construct_mapping(node, deep=deep)


def _read_yaml_text(path: Path) -> str:
    """The engagement file's text: a regular file of at most MAX_YAML_BYTES, in UTF-8."""
    try:
        size = check_regular_file(path, limit=MAX_YAML_BYTES, what="engagement file")
    except FileNotFoundError:
        raise ConfigError("engagement file not found", file=str(path),
                          fix="check the path, or create one with `funnel new NAME`") from None
    except LimitError as exc:
        raise ConfigError(str(exc), file=str(path), fix=exc.fix) from None
    data = path.read_bytes()[:size + 1]
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"line {line}: the file is not UTF-8 (byte {data[exc.start]:#04x})",
                          file=str(path),
                          fix="save it as UTF-8 (in most editors: Save as, encoding UTF-8)") from None


class _Loader(_EngagementLoader):
    """The engagement's loader (keys as YAML 1.2 reads them) with dates and times kept as text:
    PyYAML's own reading of them crashes on a typo (`2025-02-29`: ValueError); the schema reads
    them and names the key instead."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp",
                        lambda loader, node: loader.construct_scalar(node))
