"""``harness clean``: decontaminate and deduplicate SFT files (synth/clean.py).

Every :class:`synth.clean.CleanConfig` field is a flag, generated from the dataclass (whose field ``help``
is the one place each option is documented).
"""

from __future__ import annotations

import click

from harness.cli import data_dir_option
from harness.options import click_options, from_mapping, given
from synth.clean import CleanConfig


@click.command("clean")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Cleaned JSONL to write (atomically).")
@click.option("--against", multiple=True, type=click.Path(dir_okay=False),
              help="Also decontaminate against this JSONL of held-out problems (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of tables.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@data_dir_option
@click_options(CleanConfig)
def clean(inputs, out, against, as_json, no_progress, data_dir, **options):
    """Remove rows that copy a test problem (word n-gram overlap with every registered task's test set and
    --against files), exact duplicates and near duplicates (MinHash/LSH) from SFT JSONL files.

    Rows may be prompt/response, question/answer or messages (as `harness train --data`). Writes OUT, the
    removed rows with their reason and match to OUT.removed.jsonl, and OUT.report.json. Restartable: a
    killed run keeps its finished chunks in OUT.work/ and the same command continues.

    \b
    Examples:
        harness clean data/sft.jsonl --out data/sft.clean.jsonl
        harness clean a.jsonl b.jsonl --out clean.jsonl --against my_heldout.jsonl --workers 2
        harness clean big.jsonl --out big.clean.jsonl --engine datatrove --workers 4
    """
    import json

    from synth.clean import clean, report_table

    report = clean(list(inputs), out, from_mapping(CleanConfig, given(options), where="flags"), data_dir=data_dir, against=tuple(against),
                   progress=not no_progress)
    click.echo(json.dumps(report, indent=1) if as_json else report_table(report))
    c = report["counts"]
    click.echo(f"\n{c['kept']} of {c['rows_in']} rows kept in {out}; removed rows: {report['removed_path']}; "
               f"report: {report['report_path']}")
