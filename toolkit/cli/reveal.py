"""`funnel reveal`: the private map from pseudonyms back to names, beside the YAML, never in a
report or a folder git tracks."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from toolkit.base.exceptions import ToolkitError
from toolkit.base.paths import (
    REPORTS_DIR,
)
from toolkit.cli.validate import load_engagement
from toolkit.io.engagement import Engagement
from toolkit.io.loading import (
    ReadingSettings,
    as_text,
    find_column,
    personal_attributes,
    read_table,
    resolve_source,
    source_path,
)
from toolkit.io.privacy import pseudonymise, tracked_by_git
from toolkit.report import write_table

KEY_MAP_NAME = "pseudonym-key-map.csv"


def _key_map(engagement: Engagement) -> pd.DataFrame:
    """Every pseudonym of the engagement's sources with the name it stands for: `attribute,
    pseudonym, name` (a person spelled two ways is one pseudonym: the first spelling is kept)."""
    parts = []
    for source in engagement.config.sources:
        settings = resolve_source(source)
        personal = personal_attributes(source, settings, engagement.config.privacy)
        files: list[ReadingSettings] = [settings]
        if settings.records is not None:
            files.append(settings.records)
        for reading in files:
            wanted = {name: head for name, head in reading.attributes.items() if name in personal}
            if not wanted:
                continue
            path = source_path(engagement.base_dir, reading.path)
            raw = read_table(path, reading)
            for name, head in wanted.items():
                column = find_column(raw, head, role=name, file=str(path),
                                     key=f"sources[{source.name}].attributes")
                names = as_text(raw[column]).dropna()
                parts.append(pd.DataFrame({
                    "attribute": name, "name": names.str.strip().to_numpy(),
                    "pseudonym": pseudonymise(names, engagement.pseudonym_key).to_numpy()}))
    if not parts:
        return pd.DataFrame(columns=["attribute", "pseudonym", "name"])
    found = pd.concat(parts, ignore_index=True).drop_duplicates(["attribute", "pseudonym"])
    return found.sort_values(["attribute", "name"], kind="stable")[["attribute", "pseudonym",
                                                                    "name"]]


def _refuse_key_map_place(out: Path) -> None:
    """The key map holds names: never in a report folder (it is handed to the client) nor where
    git would commit it."""
    folder = out.resolve().parent
    in_reports = REPORTS_DIR.resolve() in (folder, *folder.parents)
    if in_reports or any((f / "manifest.json").is_file() for f in (folder, *folder.parents)):
        raise ToolkitError(f"{out} is inside a report folder, which is handed to the client; the "
                           f"key map holds names. Fix: write it beside the engagement YAML (the "
                           f"default) or into another private folder.")
    repo = tracked_by_git(out.resolve())
    if repo is not None:
        raise ToolkitError(f"{out} is inside the git work tree {repo} and not ignored, so the names "
                           f"could be committed. Fix: write it into the client's folder under "
                           f"data/clients/ (ignored) or add the file to .gitignore.")


def cmd_reveal(args: argparse.Namespace) -> int:
    engagement = load_engagement(args.engagement)
    out = Path(args.out) if args.out else engagement.base_dir / KEY_MAP_NAME
    _refuse_key_map_place(out)
    table = _key_map(engagement)
    write_table(table, out)
    print(f"Wrote {len(table)} pseudonym(s) with their names to {out} (private: keep it out of "
          f"reports and e-mail; the key is from {engagement.pseudonym_key.origin})")
    return 0


