"""What a run of the files tool writes at the end, and where: chosen from the flags and
checked before any request, so that hours of scanning never end in an unwritable file."""

from __future__ import annotations

from pathlib import Path

from dbx_inventory.errors import ConfigError
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
        outputs.append(DirsCsv(dirs_path(args), breakdowns))
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


def output_paths(args) -> list[str]:
    """Every file the run writes at the end."""
    return [args.output] \
        + ([areas_path(args)] if args.whole_workspace else []) \
        + ([dirs_path(args)] if args.dirs_output else []) \
        + ([args.report] if args.report else [])


def dirs_path(args) -> str:
    """--dirs-output: a file of its own, not one of the other outputs."""
    path = args.dirs_output
    if Path(path).is_dir():
        raise ConfigError(f"--dirs-output {path} is a directory: name a file")
    others = [args.output] + ([areas_path(args)] if args.whole_workspace else [])
    if any(Path(path).resolve() == Path(other).resolve() for other in others):
        raise ConfigError(f"--dirs-output {path} is another output of this run: give "
                          "the breakdown a file of its own")
    return path


def areas_path(args) -> str:
    """--areas-output, or <stem>_areas.csv beside the results; never the results."""
    output = Path(args.output)
    path = args.areas_output or str(output.with_name(f"{output.stem}_areas.csv"))
    if Path(path).is_dir():
        raise ConfigError(f"--areas-output {path} is a directory: name a file")
    if Path(path).resolve() == output.resolve():
        raise ConfigError(f"--areas-output {path} is the results file: give the areas "
                          "a file of their own")
    return path
