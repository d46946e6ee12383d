"""Plans by content: what a sweep, a study or a run started with, compared when it is taken up again.

A sweep's `sweep.json`, a study's `tune.json` and a run's `backup/plan.json` record the resolved
config (validated, every default filled in, `data.path` absolute) and the data file's identity.
A rerun of the sweep or study, or a `train --resume`, whose config or data differ from that
record is refused (exit 2) naming the first differing key: a plan remembered by path alone let
an edited config be presented as the old results.

The data's identity is its size and a SHA-256 of its first and last 64 KiB (of every file, for a
Parquet folder), not its modification time: a copy, a checkout or a `touch` changes the time but
not the data (and the nodes of a job array may each read their own copy), while hashing all of a
large file at every start costs a full read. What it cannot see: an edit in the middle of a file
that keeps its size.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from forecast import config as cfg
from forecast.config.loader import dotted

EDGE = 64 * 1024  # bytes hashed at each end of a data file
ABSENT = object()  # a key one side lacks
log = logging.getLogger("forecast")


def data_identity(path: Path) -> dict[str, Any] | None:
    """Size and head/tail hash of a data file (or of every file under a Parquet folder); None when
    it cannot be read (training then reports that itself)."""
    path = Path(path)
    try:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        digest, size = hashlib.sha256(), 0
        for file in files:
            length = file.stat().st_size
            digest.update(f"{file.relative_to(path) if file != path else ''}\0{length}\0".encode())
            with open(file, "rb") as stream:
                digest.update(stream.read(EDGE))
                if length > EDGE:
                    stream.seek(max(EDGE, length - EDGE))
                    digest.update(stream.read())
            size += length
    except OSError:
        return None
    return {"size": size, "sha256": digest.hexdigest()}


def content(config: cfg.Config) -> dict[str, Any]:
    """What a plan compares: the resolved config (as JSON reads it back) and its data's identity."""
    return {
        "resolved": json.loads(json.dumps(config.model_dump(mode="json"))),
        "data": data_identity(Path(config.data.path)),
    }


def first_difference(old: Any, new: Any) -> tuple[str, Any, Any] | None:
    """The first of `differences`, or None when the two are equal."""
    return next(differences(old, new), None)


def differences(old: Any, new: Any, where: tuple = ()) -> Iterator[tuple[str, Any, Any]]:
    """Each dotted key at which two nested dicts (and lists) differ, with the old and new values
    there (ABSENT where one side lacks the key). Keys are visited in `new`'s order, then those only
    `old` has."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*new, *(k for k in old if k not in new)]:
            yield from differences(old.get(key, ABSENT), new.get(key, ABSENT), (*where, key))
        return
    if isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            then, now = (side[i] if i < len(side) else ABSENT for side in (old, new))
            yield from differences(then, now, (*where, i))
        return
    same = old == new and isinstance(old, bool) == isinstance(new, bool)  # 2 == 2.0, but True is not 1
    if not same:
        yield dotted(where), old, new


def show(value: Any, limit: int = 60) -> str:
    """A plan's value in an error line: JSON, cut short."""
    text = "absent" if value is ABSENT else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def difference(old: dict[str, Any], new: dict[str, Any], when: str) -> str | None:
    """Why `new` is not the plan `old` recorded, naming the first differing key (the resolved
    config's first, then the data's identity, then the plan's other entries), or None.

    Entries "config" (the file's path) and "set" (the --set assignments) are not compared: the
    resolved config holds what they made, so the same config under another path is the same plan.
    `when` says where the old value is, e.g. "in the sweep's plan".
    """
    why = describe(first_difference(old.get("resolved"), new.get("resolved")), when)
    if why:
        return why
    if old.get("data") != new.get("data"):
        then, now = (f"{p['size']:,} bytes" if p else "unreadable" for p in (old.get("data"), new.get("data")))
        same = " (same size, other content)" if then == now else ""
        return f"data.path: the data file is not the one recorded {when}: {then} then, {now} now{same}"
    rest = [k for k in (*new, *old) if k not in ("resolved", "data", "config", "set")]
    return describe(
        first_difference({k: old.get(k, ABSENT) for k in rest}, {k: new.get(k, ABSENT) for k in rest}), when
    )


def describe(found: tuple[str, Any, Any] | None, when: str) -> str | None:
    """A `first_difference` as an error line says it: 'key: old {when}, new now' (None: no difference)."""
    if found is None:
        return None
    key, then, now = found
    return f"{key}: {show(then)} {when}, {show(now)} now"


def config_differences(names: list[str], configs: list[dict[str, Any]]) -> str:
    """`forecast compare`'s last section: each later run's config keys that differ from the first
    run's (`differences`; `configs` are the runs' resolved configs as JSON, `names` their
    directories' names), and a warning for each run whose data, targets or split differ from the
    first's: their errors are then not comparable."""
    lines = []
    for name, config in zip(names[1:], configs[1:], strict=True):
        changed = list(differences(configs[0], config))
        # the rows scored: the data, its targets, and every way of splitting it (fractions, ends, *_last)
        scored = {k.split("[")[0] for k, _, _ in changed if k.startswith(("data.path", "data.targets", "data.split."))}
        for key in sorted(scored):
            log.warning(f"warning: {name} differs from {names[0]} in {key}: its errors are not comparable")
        shown = ", ".join(
            f"{k}: {'absent' if then is ABSENT else repr(then)} -> {'absent' if now is ABSENT else repr(now)}"
            for k, then, now in changed[:8]
        )
        more = f" (and {len(changed) - 8} more)" if len(changed) > 8 else ""
        lines.append(f"{name} vs {names[0]}: " + (shown + more if changed else "same config"))
    return "\n\nconfig differences:\n" + "\n".join(lines)
