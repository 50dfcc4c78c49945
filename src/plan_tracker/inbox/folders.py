"""The inbox folder layout and safe names for everything written there.

    <inbox>/<plan_id>/             files dropped here are ingested by the nightly collect stage
    <inbox>/<plan_id>/processed/   ingested files, renamed `YYYYMMDD-<sha256:12>-<name>`, each with
                                   `<stored>.receipt.json` and, when a row failed, `<stored>.errors.csv`
    <inbox>/<plan_id>/rejected/    refused files with their receipt and error file

`<inbox>` is `Settings.folder("inbox")` (PLAN_TRACKER_INBOX_DIR, default `<data_dir>/inbox`).
Nothing is ever written outside `<inbox>/<plan_id>/`: names are reduced to a safe base name,
and every destination is resolved and checked to lie inside the plan's folder, so a
`processed/` that is a link elsewhere is refused rather than followed.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from plan_tracker.inbox.errors import InboxMisconfigured

PROCESSED = "processed"
REJECTED = "rejected"
_PLAN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MAX_NAME_CHARS = 80


def safe_name(name: str) -> str:
    """A file name's last component with everything but letters (any script), digits,
    `.`, `_` and `-` replaced by `_`; never empty, never hidden, never `..`."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in base).lstrip(".")
    if not base or set(base) <= {"_", "-"}:
        base = "file" + base
    if len(base) > MAX_NAME_CHARS:
        stem, dot, ext = base.rpartition(".")
        ext = ext[:10] if dot and len(ext) <= 10 else ""
        base = stem[: MAX_NAME_CHARS - len(ext) - 1] + ("." + ext if ext else "")
    return base


def plan_folder(inbox: Path, plan_id: str) -> Path:
    if not _PLAN_ID.match(plan_id):
        raise InboxMisconfigured("folder.not_plan_id", plan=plan_id)
    return inbox / plan_id


def check_layout(folder: Path) -> None:
    """Refuse to work with a plan folder whose `processed/` or `rejected/` leads elsewhere;
    checked before anything is recorded, so a misconfiguration never half-ingests a file."""
    root = folder.resolve()
    for name in (PROCESSED, REJECTED):
        target = folder / name
        if target.is_symlink() or (target.exists() and not target.resolve().is_relative_to(root)):
            raise InboxMisconfigured("folder.link_out", target=target, root=root)
        if target.exists() and not target.is_dir():
            raise InboxMisconfigured("folder.not_folder", target=target)


def stored_name(original: str, sha256: str, today: dt.date) -> str:
    return f"{today:%Y%m%d}-{sha256[:12]}-{safe_name(original)}"


def destination(folder: Path, outcome_dir: str, name: str) -> Path:
    """A fresh path in `folder/outcome_dir` (created if needed), proven to stay inside `folder`."""
    target_dir = folder / outcome_dir
    target_dir.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    if not target_dir.resolve().is_relative_to(root) or target_dir.is_symlink():
        raise InboxMisconfigured("folder.leads_outside", target=target_dir, root=root)
    candidate = target_dir / name
    stem, dot, ext = name.rpartition(".")
    counter = 1
    while candidate.exists() or candidate.is_symlink():
        counter += 1
        candidate = target_dir / (f"{stem}-{counter}.{ext}" if dot else f"{name}-{counter}")
    if not candidate.resolve().parent == target_dir.resolve():
        raise InboxMisconfigured("folder.not_plain", target=candidate, folder=target_dir)
    return candidate


def within(folder: Path, path: Path) -> bool:
    """Whether `path` (not followed if it is a link) sits inside `folder`."""
    try:
        return path.parent.resolve().is_relative_to(folder.resolve())
    except (OSError, ValueError):
        return False
