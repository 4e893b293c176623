"""Reading a YAML file a user gave us, whatever it holds, in bounded time and memory.

Every failure is one ``BadInput`` line naming the file (and the line when there is one):
a FIFO or a device is refused before it is opened (reading it would hang or never end),
the size is capped before parsing, the text must be UTF-8 (a UTF-16/32 file is named as
such), the document is composed once with libyaml when it is installed, duplicate keys
are refused (PyYAML keeps the last one silently: a second ``faults: []`` would drop the
whole schedule), and the composed tree is bounded in depth and in size with its aliases
expanded (an alias bomb is a few KB that expands to billions of nodes).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from kchaos.errors import BadInput
from kchaos.safety import printable

#: Experiment files and profiles are a few KB; the largest shipped one is under 20 KB.
MAX_BYTES = 1024 * 1024
#: Nodes of the document with every alias expanded (the shipped files have under 2,000).
MAX_NODES = 100_000
#: Nesting of mappings and sequences (the shipped files nest 6 deep).
MAX_DEPTH = 64

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UniqueKeyLoader(_Base):  # type: ignore[misc,valid-type]
    """The safe loader (libyaml's parser when present) refusing duplicate mapping keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)  # merge keys (<<: *anchor) first, as the base loader does
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                dup = key in seen
            except TypeError:  # an unhashable key: the base constructor names it
                break
            if dup:
                first = seen[key].start_mark.line + 1
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {first})", key_node.start_mark
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def read_text(path: Path, what: str = "file") -> str:
    """The file's text: a regular file, at most ``MAX_BYTES``, UTF-8; else one BadInput line."""
    path = Path(path)
    try:
        info = path.stat()
    except OSError as err:
        raise BadInput(f"{path}: cannot read ({err.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise BadInput(f"{path}: not a regular file (a FIFO, device or folder cannot be a {what})")
    if info.st_size > MAX_BYTES:
        raise BadInput(f"{path}: {info.st_size} bytes; a {what} is at most {MAX_BYTES} bytes")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as err:
        raise BadInput(f"{path}: cannot read ({err.strerror})") from None
    if len(data) > MAX_BYTES:
        raise BadInput(f"{path}: over {MAX_BYTES} bytes; a {what} is at most {MAX_BYTES} bytes")
    return decode(path, data)


def decode(path: Path, data: bytes) -> str:
    """UTF-8 text (a BOM allowed); UTF-16/32 and other encodings named in one line."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        raise BadInput(f"{path}: UTF-16 or UTF-32 text; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise BadInput(f"{path}:{line}: not UTF-8 (byte 0x{data[err.start]:02x}); save it as UTF-8") from None


def compose(path: Path, text: str) -> tuple[yaml.Node | None, Any]:
    """The composed node (for line numbers) and the data built from it, parsed once."""
    loader = UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            check_shape(path, node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        raise BadInput(_yaml_line(path, err, text)) from None
    except (RecursionError, MemoryError):
        raise BadInput(f"{path}: nested too deeply or too large to read") from None
    finally:
        loader.dispose()
    return node, data


def load(path: Path, what: str = "file") -> tuple[yaml.Node | None, Any]:
    """``read_text`` then ``compose``: the node and the data of a user's YAML file."""
    return compose(Path(path), read_text(Path(path), what))


def check_shape(path: Path, root: yaml.Node) -> None:
    """Bound the depth and the alias-expanded size of a composed tree (iteratively: a
    deep tree must not hit Python's recursion limit here)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    on_path: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in _children(node))
            if sizes[key] > MAX_NODES:
                raise BadInput(f"{path}: over {MAX_NODES} values once aliases are expanded (an alias bomb?)")
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise BadInput(f"{path}:{node.start_mark.line + 1}: an alias refers to itself")
        if depth > MAX_DEPTH:
            raise BadInput(f"{path}:{node.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep")
        on_path.add(key)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in _children(node) if id(c) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _yaml_line(path: Path, err: yaml.YAMLError, text: str) -> str:
    """One line for any YAML error, with its line number (a reader error has a position)."""
    if isinstance(err, yaml.reader.ReaderError):
        line = text[: max(0, int(err.position or 0))].count("\n") + 1
        return f"{path}:{line}: not valid YAML (control character 0x{_char(err):02x} is not allowed)"
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    where = f":{mark.line + 1}" if mark is not None else ""
    problem = getattr(err, "problem", None) or str(err)
    return f"{path}{where}: not valid YAML ({' '.join(printable(str(problem)).split())})"


def _char(err: Any) -> int:
    ch = getattr(err, "character", 0)
    return ord(ch) if isinstance(ch, str) and ch else int(ch or 0)
