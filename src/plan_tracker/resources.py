"""Files shipped inside the package, found with importlib.resources, never a checkout path.

- `templates/`: the reminder and report templates (Jinja2), loaded with a PackageLoader so a
  wheel installed anywhere renders the same messages as a checkout.
- `examples/`: the founding plan (`plans/jingzhou-2018.yaml`, units in `units/jingzhou.yaml`),
  written out by `plan-tracker example jingzhou-2018 --out DIR`.
- `schema/`: the JSON Schemas the examples' first line points at.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from jinja2 import BaseLoader, PackageLoader

from plan_tracker.domain.errors import DomainError
from plan_tracker.domain.messages import msg
from plan_tracker.domain.suggestions import unknown

PACKAGE = "plan_tracker"
# name → the files it is made of, relative to `examples/` (the plan names its units file
# relatively, so the layout is kept when written out).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "jingzhou-2018": ("plans/jingzhou-2018.yaml", "units/jingzhou.yaml"),
}
SCHEMAS = ("plan.schema.json", "units.schema.json")
_SCHEMA_LINE = "# yaml-language-server: $schema=../../schema/"


class UnknownExample(DomainError):
    """An example name the package does not ship."""


class ExampleExists(DomainError):
    """Writing an example would overwrite a file."""


def template_loader() -> BaseLoader:
    """The Jinja2 loader of the shipped templates (`reminder.*.txt.j2`, `reports/*`)."""
    return PackageLoader(PACKAGE, "templates")


def example_file(relative: str) -> Traversable:
    return files(PACKAGE).joinpath("examples", *relative.split("/"))


def example_plan_path(name: str = "jingzhou-2018") -> Path:
    """The shipped plan file of an example as a file-system path (installed packages and
    checkouts are directories; a zipped install is not supported)."""
    plan = example_file(_files(name)[0])
    path = Path(str(plan))
    if not path.is_file():
        raise FileNotFoundError(f"the example {name!r} is not on the file system ({plan})")
    return path


def _files(name: str) -> tuple[str, ...]:
    if name not in EXAMPLES:
        raise UnknownExample(unknown(msg("what.example"), name, EXAMPLES))
    return EXAMPLES[name]


def write_example(name: str, folder: Path, *, force: bool = False) -> list[Path]:
    """Write an example's files under `folder` (plans/, units/, schema/); the plan's path first.

    The schema line of each YAML file is rewritten to the copy of the schema written
    beside it, so an editor completes keys in the written-out files too.
    """
    wanted = _files(name)
    if folder.exists() and not folder.is_dir():
        raise ExampleExists("cli.out_not_folder", path=folder)
    targets = [folder / relative for relative in wanted] + [folder / "schema" / s for s in SCHEMAS]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise ExampleExists("cli.file_exists", path=existing[0])
    for relative, target in zip(wanted, targets, strict=False):
        text = example_file(relative).read_text(encoding="utf-8")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.replace(_SCHEMA_LINE, "# yaml-language-server: $schema=../schema/", 1),
                          encoding="utf-8")
    for schema in SCHEMAS:
        target = folder / "schema" / schema
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(files(PACKAGE).joinpath("schema", schema).read_text(encoding="utf-8"), encoding="utf-8")
    return targets
