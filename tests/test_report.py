"""Results CSV: exact text, column order, extended columns, quoting, atomic write."""

from __future__ import annotations

import csv
import io

import pytest

from dbx_inventory.report import write_results
from dbx_inventory.results import UserResult

HEADER = "username,file_count,total_size,total_size_gb,status,file_source,error"
EXT_HEADER = HEADER + ",dbfs_files,dbfs_bytes,workspace_files,workspace_bytes," \
                      "last_modified,duration_s"


def r(name, status, files, size, source, error="", **extra) -> UserResult:
    return UserResult(username=name, status=status, file_count=files, total_size=size,
                      file_source=source, error=error, **extra)


def test_exact_csv_text(tmp_path):
    out = tmp_path / "results.csv"
    rows = [
        r("alice@x.com", "success", 3, 1610612736, "dbfs"),        # 1.5 GiB
        r("bob@x.com", "empty", 0, 0, "none"),
        r("carol@x.com", "success", 12, 536870912, "workspace"),   # 0.5 GiB
        r("dan@x.com", "success", 1, 10737418240, "both"),         # 10 GiB
        r("eve@x.com", "error", 0, 0, "unknown",
          "no home directory in DBFS or Workspace"),
    ]
    write_results(str(out), rows)
    assert out.read_bytes().decode("utf-8") == (
        HEADER + "\n"
        "alice@x.com,3,1610612736,1.50,success,dbfs,\n"
        "bob@x.com,0,0,0.00,empty,none,\n"
        "carol@x.com,12,536870912,0.50,success,workspace,\n"
        "dan@x.com,1,10737418240,10.00,success,both,\n"
        "eve@x.com,0,0,0.00,error,unknown,no home directory in DBFS or Workspace\n"
    )


def test_gb_rounds_to_two_decimals(tmp_path):
    out = tmp_path / "results.csv"
    # 1 byte -> 0.00; 3/4 GiB = 805306368 -> 0.75; 1 GiB + 1/8 GiB = 1207959552 -> 1.12
    # (1.125 rounds half to even); 2 GiB - 1 byte -> 2.00
    rows = [r("a", "success", 1, 1, "dbfs"), r("b", "success", 1, 805306368, "dbfs"),
            r("c", "success", 1, 1207959552, "dbfs"), r("d", "success", 1, 2147483647, "dbfs")]
    write_results(str(out), rows)
    gbs = [line.split(",")[3] for line in out.read_text().splitlines()[1:]]
    assert gbs == ["0.00", "0.75", "1.12", "2.00"]


def test_header_only_when_no_rows(tmp_path):
    out = tmp_path / "results.csv"
    write_results(str(out), [])
    assert out.read_text() == HEADER + "\n"


def test_rows_keep_input_order(tmp_path):
    out = tmp_path / "results.csv"
    names = ["zed", "amy", "Mike", "bob"]
    write_results(str(out), [r(n, "empty", 0, 0, "none") for n in names])
    assert [line.split(",")[0] for line in out.read_text().splitlines()[1:]] == names


def test_extended_columns(tmp_path):
    out = tmp_path / "results.csv"
    rows = [
        r("alice@x.com", "success", 3, 1610612736, "both", dbfs_files=2,
          dbfs_bytes=1073741824, workspace_files=1, workspace_bytes=536870912,
          last_modified_ms=1700000000000, started_at=100.0, ended_at=102.5),
        r("bob@x.com", "empty", 0, 0, "none", last_modified_ms=None,
          started_at=50.0, ended_at=50.0),
        r("old@x.com", "success", 1, 7, "dbfs", dbfs_files=1, dbfs_bytes=7,
          last_modified_ms=86401999, started_at=10.0, ended_at=70.0),
        r("epoch@x.com", "success", 1, 7, "dbfs", dbfs_files=1, dbfs_bytes=7,
          last_modified_ms=0, started_at=10.0, ended_at=5.0),
    ]
    write_results(str(out), rows, extended=True)
    assert out.read_text() == (
        EXT_HEADER + "\n"
        "alice@x.com,3,1610612736,1.50,success,both,,2,1073741824,1,536870912,"
        "2023-11-14T22:13:20Z,2.5\n"
        "bob@x.com,0,0,0.00,empty,none,,0,0,0,0,,0.0\n"
        "old@x.com,1,7,0.00,success,dbfs,,1,7,0,0,1970-01-02T00:00:01Z,60.0\n"
        "epoch@x.com,1,7,0.00,success,dbfs,,1,7,0,0,1970-01-01T00:00:00Z,0.0\n"
    )


def test_awkward_error_text_is_quoted(tmp_path):
    out = tmp_path / "results.csv"
    error = 'DBFS: 403 "PERMISSION_DENIED", path /Users/a,b\nsecond line'
    write_results(str(out), [r("a,b@x.com", "error", 2, 20, "dbfs", error)])
    text = out.read_text()
    assert text == (HEADER + "\n"
                    '"a,b@x.com",2,20,0.00,error,dbfs,'
                    '"DBFS: 403 ""PERMISSION_DENIED"", path /Users/a,b\nsecond line"\n')
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[1] == ["a,b@x.com", "2", "20", "0.00", "error", "dbfs", error]


def test_overwrites_existing_file(tmp_path):
    out = tmp_path / "results.csv"
    out.write_text("old contents\n" * 100)
    write_results(str(out), [r("a", "empty", 0, 0, "none")])
    assert out.read_text() == HEADER + "\na,0,0,0.00,empty,none,\n"


def failing_rows():
    yield r("alice@x.com", "success", 3, 1610612736, "dbfs")
    yield r("bob@x.com", "empty", 0, 0, "none")
    raise RuntimeError("disk on fire")


def test_failure_midway_leaves_old_file_and_no_temp(tmp_path):
    out = tmp_path / "results.csv"
    out.write_text("previous run\n")
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_results(str(out), failing_rows())
    assert out.read_text() == "previous run\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_failure_midway_creates_nothing(tmp_path):
    out = tmp_path / "results.csv"
    with pytest.raises(RuntimeError):
        write_results(str(out), failing_rows(), extended=True)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_target_folder_raises(tmp_path):
    with pytest.raises(OSError):
        write_results(str(tmp_path / "no_such_dir" / "results.csv"),
                      [r("a", "empty", 0, 0, "none")])


def test_error_column_is_scrubbed_of_known_secrets(tmp_path):
    from dbx_inventory import scrub

    secret = "dapi-IN-AN-ERROR-7777"
    scrub.remember(secret)
    row = UserResult("a@x.com", "error", 0, 0, "unknown",
                     f"DBFS: 500 echo: Bearer {secret}; url https://h/?token=abc123")
    out = tmp_path / "r.csv"
    write_results(str(out), [row])
    text = out.read_text(encoding="utf-8")
    assert secret not in text and "abc123" not in text
    assert "Bearer ****" in text and "token=****" in text


def test_user_status_comes_last_after_the_extended_columns(tmp_path):
    out = tmp_path / "results.csv"
    rows = [r("a@x.com", "success", 1, 5, "dbfs", user_status="removed"),
            r("b@x.com", "empty", 0, 0, "none", user_status="active")]
    write_results(str(out), rows, user_status=True)
    assert out.read_text(encoding="utf-8").splitlines() == [
        HEADER + ",user_status", "a@x.com,1,5,0.00,success,dbfs,,removed",
        "b@x.com,0,0,0.00,empty,none,,active"]
    write_results(str(out), rows, extended=True, user_status=True)
    header, first = out.read_text(encoding="utf-8").splitlines()[:2]
    assert header == EXT_HEADER + ",user_status" and first.endswith(",removed")
