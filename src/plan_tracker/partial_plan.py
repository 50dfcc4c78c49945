"""A plan without its invalid parts, so one `plan validate` reports every problem at once.

When the models reject some values, the whole-document checks (references, duplicates,
cycles, calendar coverage) would otherwise wait for the next run. Here the rejected values
are taken out — an optional value is dropped, an item (unit, task, step…) whose required
value is bad is dropped whole — and what is left is validated again and checked. Issues
come back in the coordinates of the original document, so their FILE:LINE:COL is right,
and references to a dropped item's id (or a dropped unit's groups) are not reported: the
item is there, just broken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from plan_tracker.domain.plan import Plan

Path = tuple[Any, ...]
ROUNDS = 5  # each round drops what the previous one's errors point at; real files need 1-2


@dataclass
class _Pruned:
    dropped_keys: set[Path] = field(default_factory=set)
    dropped_items: set[Path] = field(default_factory=set)
    index_maps: dict[Path, list[int]] = field(default_factory=dict)  # list path -> kept original indexes

    def prune(self, node: Any, path: Path = ()) -> Any:
        if isinstance(node, dict):
            return {k: self.prune(v, (*path, k)) for k, v in node.items() if (*path, k) not in self.dropped_keys}
        if isinstance(node, list):
            kept = [i for i in range(len(node)) if (*path, i) not in self.dropped_items]
            self.index_maps[path] = kept
            return [self.prune(node[i], (*path, i)) for i in kept]
        return node

    def original(self, path: Path) -> Path:
        """A path in the pruned document, as a path in the original one."""
        out: Path = ()
        for part in path:
            if isinstance(part, int) and out in self.index_maps and part < len(self.index_maps[out]):
                part = self.index_maps[out][part]
            out = (*out, part)
        return out


def _field_path(loc: tuple[Any, ...]) -> Path:
    # pydantic adds validator and union-member names to locations; keep the document's keys
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))


def _lookup(data: Any, path: Path) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def salvage(data: dict[str, Any], error: ValidationError) -> tuple[Plan | None, set[str], _Pruned]:
    """(the plan that remains, ids of dropped items, the pruning) — or no plan when a
    top-level value is wrong (nothing sensible remains to check)."""
    pruned = _Pruned()
    ghosts: set[str] = set()
    errors = error.errors()
    for _ in range(ROUNDS):
        for err in errors:
            path = pruned.original(_field_path(tuple(err["loc"])))
            item = max((i for i, p in enumerate(path) if isinstance(p, int)), default=None)
            if err["type"] == "missing" or (err["type"] != "extra_forbidden" and item is not None
                                            and item == len(path) - 1):
                if item is None:
                    return None, ghosts, pruned
                target = path[:item + 1]
                pruned.dropped_items.add(target)
                found = _lookup(data, target)
                if isinstance(found, dict) and isinstance(found.get("id"), str):
                    ghosts.add(found["id"])
                if isinstance(found, dict) and isinstance(found.get("groups"), list):  # a unit's groups
                    ghosts.update(g for g in found["groups"] if isinstance(g, str))
            elif len(path) > 1 or err["type"] == "extra_forbidden":
                pruned.dropped_keys.add(path)
            else:
                return None, ghosts, pruned
        try:
            return Plan.model_validate(pruned.prune(data)), ghosts, pruned
        except ValidationError as again:
            errors = again.errors()
    return None, ghosts, pruned
