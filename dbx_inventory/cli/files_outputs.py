"""What a run of the files tool writes at the end, and where: chosen from the flags and
checked before any request, so that hours of scanning never end in an unwritable file."""

from __future__ import annotations

from pathlib import Path

from dbx_inventory.outputs.checkpoint import JournalBreakdowns
from dbx_inventory.outputs.html.report import HtmlReport
from dbx_inventory.outputs.output import AreasCsv, CsvOutput, DirsCsv, Output, WithBreakdowns
from dbx_inventory.outputs.table import SparkTable, table_mode


def build_outputs(args, settings, config) -> list[Output]:
    """The outputs in the order they are written; the CSV first: it is the record."""
    outputs: list[Output] = [CsvOutput(args.output, extended=args.extended)]
    if args.whole_workspace:
        outputs.append(AreasCsv(areas_path(args)))
    breakdowns = JournalBreakdowns(args.checkpoint)
    if args.dirs_output:
        outputs.append(DirsCsv(args.dirs_output, breakdowns))
    if args.report:
        outputs.append(HtmlReport(args.report))
    if args.output_table:
        outputs.append(SparkTable(args.output_table, table_mode(args, settings.cluster_id),
                                  config, dirs=bool(args.dirs_output)))
    if not args.dirs_output:
        return outputs
    # The rows are kept without their breakdowns: these outputs read them back.
    return [output if isinstance(output, (CsvOutput, AreasCsv, DirsCsv))
            else WithBreakdowns(output, breakdowns) for output in outputs]


def output_paths(args) -> list[tuple[str, str]]:
    """(flag, path) of every file the run writes at the end, in the order written; that
    none is another, the checkpoint or a directory is outputs/collisions.py's check."""
    return [("-o", args.output)] \
        + ([("--areas-output", areas_path(args))] if args.whole_workspace else []) \
        + ([("--dirs-output", args.dirs_output)] if args.dirs_output is not None else []) \
        + ([("--report", args.report)] if args.report is not None else [])


def areas_path(args) -> str:
    """--areas-output, or <stem>_areas.csv beside the results."""
    if args.areas_output is not None or not args.output:
        return args.areas_output or ""  # (an empty -o is refused first)
    output = Path(args.output)
    return str(output.with_name(f"{output.stem}_areas.csv"))
