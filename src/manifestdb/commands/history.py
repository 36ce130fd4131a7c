"""`manifestdb versions`, `diff`, `revert` and `delete-entries`: a dataset's history from the
command line, through `manifestdb.client.HistoryClient` (docs/history.md).

Credentials, region and endpoint come as for `push` and `export` (`--profile`, `--region`,
`--endpoint-url` or MANIFESTDB_ENDPOINT_URL / AWS_ENDPOINT_URL). A change (revert, restore,
deletion) is waited for unless `--no-wait`, and says the version it made.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from manifestdb.commands.aws import (
    CommandError,
    EndpointOption,
    ProfileOption,
    RegionOption,
    history_client,
    rekognition_client,
    reported_errors,
)
from manifestdb.commands.export import entry_filters

ArnArgument = Annotated[str, typer.Argument(help="The dataset's ARN.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]
WaitOption = Annotated[
    bool, typer.Option("--wait/--no-wait", help="Wait for the job and say the version it made.")
]


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def versions_command(
    dataset_arn: ArnArgument,
    as_json: JsonOption = False,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
) -> None:
    """List a dataset's versions, newest first: who made each, of what kind, what it changed."""
    with reported_errors("versions"):
        history = history_client(endpoint_url, profile, region)
        found = list(history.paginate("ListDatasetVersions", "Versions", DatasetArn=dataset_arn))
    if as_json:
        sys.stdout.write(orjson.dumps({"Versions": found}, option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("version", "time (UTC)", "kind", "caller", "entries", "changes", "revertible")
    for version in found:
        counts = ", ".join(f"{name} {value:,}" for name, value in version["Counts"].items())
        table.add_row(
            str(version["VersionNumber"]),
            _when(version["CreationTimestamp"]),
            version["Kind"] + (" (folded)" if version.get("Folded") else ""),
            version["Caller"],
            f"{version['DatasetStats']['TotalEntries']:,}",
            counts or "-",
            "yes" if version["Revertible"] else "no",
        )
    Console().print(table)


def diff_command(
    dataset_arn: ArnArgument,
    from_version: Annotated[int, typer.Argument(help="The older version.", min=0)],
    to_version: Annotated[int, typer.Argument(help="The newer version.", min=0)],
    as_json: JsonOption = False,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
) -> None:
    """What changed between two versions: + added, - removed, ~ changed, and the label counts."""
    with reported_errors("diff"):
        history = history_client(endpoint_url, profile, region)
        params = {"DatasetArn": dataset_arn, "FromVersion": from_version, "ToVersion": to_version}
        first = history.diff_dataset_versions(**params)
        changes = list(first["Changes"])
        token = first.get("NextToken")
        while token:
            page = history.diff_dataset_versions(**params, NextToken=token)
            changes.extend(page["Changes"])
            token = page.get("NextToken")
    summary = first["Summary"]
    if as_json:
        document = {"Summary": summary, "Changes": changes}
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    marks = {"ADDED": "+", "REMOVED": "-", "CHANGED": "~"}
    for change in changes:
        sys.stdout.write(f"{marks[change['Change']]} {change['SourceRef']}\n")
    before, after = summary["LabelsBefore"], summary["LabelsAfter"]
    moved = [
        f"{label} {before.get(label, 0):,} -> {after.get(label, 0):,}"
        for label in sorted(set(before) | set(after))
        if before.get(label, 0) != after.get(label, 0)
    ]
    sys.stderr.write(
        f"versions {from_version} -> {to_version}: {summary['Added']:,} added, "
        f"{summary['Removed']:,} removed, {summary['Changed']:,} changed"
        + (f"; labels: {', '.join(moved)}" if moved else "")
        + "\n"
    )


def revert_command(
    dataset_arn: ArnArgument,
    version: Annotated[
        int | None, typer.Argument(help="The version to undo (its own changes only).", min=1)
    ] = None,
    to: Annotated[
        int | None,
        typer.Option("--to", help="Instead: restore the whole dataset to this version.", min=0),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(help="Undo the version even where a later version changed its entries."),
    ] = False,
    wait: WaitOption = True,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
) -> None:
    """Undo one version, or (--to N) take the dataset back to version N: a new version."""
    if (version is None) == (to is None):
        raise typer.BadParameter("give a VERSION to undo, or --to N to restore version N")
    with reported_errors("revert"):
        history = history_client(endpoint_url, profile, region)
        if to is not None:
            history.restore_dataset_version(DatasetArn=dataset_arn, VersionNumber=to)
            doing = f"restore to version {to}"
        else:
            history.revert_dataset_version(
                DatasetArn=dataset_arn, VersionNumber=version, Force=force
            )
            doing = f"revert of version {version}"
        _finish(history, dataset_arn, doing, wait, endpoint_url, profile, region)


def delete_entries_command(
    dataset_arn: ArnArgument,
    source_refs: Annotated[
        list[str] | None,
        typer.Option("--source-ref", help="An entry to delete (repeat for more)."),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(help="A file of source-refs to delete, one per line ('-': stdin)."),
    ] = None,
    labels: Annotated[
        list[str] | None,
        typer.Option("--label", help="Every entry with this label (repeat: any of them, 1-10)."),
    ] = None,
    labeled: Annotated[
        bool | None,
        typer.Option("--labeled/--unlabeled", help="Every labeled, or unlabeled, entry."),
    ] = None,
    has_errors: Annotated[
        bool | None,
        typer.Option("--has-errors/--no-errors", help="Every entry with errors, or without."),
    ] = None,
    source_ref_contains: Annotated[
        str | None, typer.Option(help="Every entry whose source-ref contains this.")
    ] = None,
    wait: WaitOption = True,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
) -> None:
    """Delete entries, by source-ref or by a ListDatasetEntries filter: a new version."""
    refs = list(source_refs or [])
    if from_file is not None:
        text = sys.stdin.read() if str(from_file) == "-" else _read(from_file)
        refs.extend(line.strip() for line in text.splitlines() if line.strip())
    filters = entry_filters(labels, labeled, has_errors, source_ref_contains)
    if bool(refs) == bool(filters):
        raise typer.BadParameter(
            "give source-refs (--source-ref, --from-file) or a filter (--label, --labeled, "
            "--has-errors, --source-ref-contains), not both"
        )
    with reported_errors("delete-entries"):
        history = history_client(endpoint_url, profile, region)
        if refs:
            history.delete_dataset_entries(DatasetArn=dataset_arn, SourceRefs=refs)
        else:
            history.delete_dataset_entries(DatasetArn=dataset_arn, Filter=filters)
        _finish(history, dataset_arn, "deletion", wait, endpoint_url, profile, region)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}", 2) from None


def _finish(
    history: Any,
    dataset_arn: str,
    doing: str,
    wait: bool,
    endpoint_url: str | None,
    profile: str | None,
    region: str | None,
) -> None:
    """Wait for the job; say the version it made, or why it failed."""
    if not wait:
        typer.echo(
            f"{doing} queued: DescribeDataset shows UPDATE_IN_PROGRESS until it ends", err=True
        )
        return
    client = rekognition_client(endpoint_url, profile, region)
    while True:
        description = client.describe_dataset(DatasetArn=dataset_arn)["DatasetDescription"]
        if not description["Status"].endswith("IN_PROGRESS"):
            break
        time.sleep(0.2)
    if description["Status"] != "UPDATE_COMPLETE":
        raise CommandError(
            f"{doing} failed: {description['Status']}: {description['StatusMessage']}"
        )
    latest = history.list_dataset_versions(DatasetArn=dataset_arn, MaxResults=1)["Versions"][0]
    counts = ", ".join(f"{name} {value:,}" for name, value in latest["Counts"].items())
    typer.echo(f"{doing} applied: version {latest['VersionNumber']} ({counts})", err=True)
