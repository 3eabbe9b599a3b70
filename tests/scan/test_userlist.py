"""The users file: comments, blanks, CSV first column, header, BOM, dedupe, errors."""

from __future__ import annotations

import pytest

from dbx_inventory.errors import ConfigError
from dbx_inventory.scan.userlist import case_twins, parse_users, read_users_file


def write(tmp_path, content, name="users.txt"):
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return str(path)


def test_plain_list(tmp_path):
    path = write(tmp_path, "alice@x.com\nbob@x.com\n")
    assert read_users_file(path) == ["alice@x.com", "bob@x.com"]


def test_blank_lines_comments_and_whitespace(tmp_path):
    path = write(tmp_path, "# team A\n\n   \n  alice@x.com  \n\t#bob@x.com\n"
                           "\tcarol@x.com\t\r\n\n# end\n")
    assert read_users_file(path) == ["alice@x.com", "carol@x.com"]


def test_no_trailing_newline(tmp_path):
    assert read_users_file(write(tmp_path, "alice@x.com\nbob@x.com")) == \
        ["alice@x.com", "bob@x.com"]


def test_crlf_line_endings(tmp_path):
    assert read_users_file(write(tmp_path, "alice@x.com\r\nbob@x.com\r\n")) == \
        ["alice@x.com", "bob@x.com"]


def test_only_exact_duplicates_dropped_case_twins_kept_in_order(tmp_path):
    # Home paths are case-sensitive: Upper.Case@ and upper.case@ are two homes.
    path = write(tmp_path, "Alice@X.com\nbob@x.com\nAlice@X.com\nalice@x.com\ncarol@x.com\n"
                           "bob@x.com\n")
    names = read_users_file(path)
    assert names == ["Alice@X.com", "bob@x.com", "alice@x.com", "carol@x.com"]
    assert case_twins(names) == [["Alice@X.com", "alice@x.com"]]


def test_csv_header_and_first_column(tmp_path):
    path = write(tmp_path, "username,display_name,active\n"
                           "alice@x.com,Alice A,true\n"
                           " bob@x.com , Bob B ,false\n", name="users.csv")
    assert read_users_file(path) == ["alice@x.com", "bob@x.com"]


def test_header_in_other_case(tmp_path):
    path = write(tmp_path, "UserName\nalice@x.com\n")
    assert read_users_file(path) == ["alice@x.com"]


def test_bom_with_header(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbfusername\nalice@x.com\n")
    assert read_users_file(path) == ["alice@x.com"]


def test_bom_without_header(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbfalice@x.com\nbob@x.com\n")
    assert read_users_file(path) == ["alice@x.com", "bob@x.com"]


def test_quoted_csv_first_column_is_unquoted(tmp_path):
    # R write.csv and several export tools quote every field.
    path = write(tmp_path, '"username","name"\n"alice@x.com","Alice"\n', name="users.csv")
    assert read_users_file(path) == ["alice@x.com"]


def test_empty_first_column_skipped(tmp_path):
    path = write(tmp_path, ",orphan\nalice@x.com,\n")
    assert read_users_file(path) == ["alice@x.com"]


@pytest.mark.parametrize("content", ["", "\n\n  \n", "# only a comment\n", "username\n",
                                     b"\xef\xbb\xbf", b"\xef\xbb\xbfusername\n"])
def test_file_without_users_is_config_error(tmp_path, content):
    with pytest.raises(ConfigError, match="no users"):
        read_users_file(write(tmp_path, content))


def test_missing_file_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        read_users_file(str(tmp_path / "absent.txt"))


def test_undecodable_file_is_config_error(tmp_path):
    with pytest.raises(ConfigError):
        read_users_file(write(tmp_path, b"alice@x.com\n\xff\xfe\xfd\n"))


def test_directory_is_config_error(tmp_path):
    with pytest.raises(ConfigError):
        read_users_file(str(tmp_path))


def test_parse_users_on_plain_lines():
    assert parse_users(["  x@y.z ", "#c", "", "x@y.z", "w@y.z,extra"]) == ["x@y.z", "w@y.z"]


def test_unicode_case_twins_are_reported_not_dropped(tmp_path):
    path = write(tmp_path, "STRASSE@x.com\nstraße@x.com\nzoë@x.com\nZOË@x.com\n")
    names = read_users_file(path)
    assert names == ["STRASSE@x.com", "straße@x.com", "zoë@x.com", "ZOË@x.com"]
    assert case_twins(names) == [["STRASSE@x.com", "straße@x.com"], ["zoë@x.com", "ZOË@x.com"]]


@pytest.mark.parametrize("content, line", [
    ("a@x.com\nb@x.com\tc@x.com\n", 2),                  # tab-separated: not one name
    ("a@x.com\nann smith@x.com\n", 2),                    # inner space
    (b"\x00" * 2048, 1),                                  # zero-filled file
    ("a@x.com\nbad\x07bell@x.com\n", 2),                  # control character
    ("../../etc@x.com\n", 1),                             # would leave /Users/<user>
    ("a@x.com\nteam/ann@x.com\n", 2),
    ("a@x.com\n..\n", 2),
    (".\n", 1),
])
def test_names_that_are_not_one_home_are_refused_naming_the_line(tmp_path, content, line):
    path = write(tmp_path, content)
    with pytest.raises(ConfigError, match=rf"users file .* line {line}: .* is not a user name"
                       ) as info:
        read_users_file(path)
    assert str(info.value).count("\\x00") <= 40  # 2,048 NULs are not printed whole


def test_printed_listing_of_the_user_list_tool_is_recognised(tmp_path):
    printed = ("=" * 80 + "\nDATABRICKS USER LISTING\n" + "=" * 80 + "\n"
               "Start time: 2026-11-30 10:00:00\n\nFound 2 users\n\n"
               "    1. ana@x.com\n    2. bo@x.com\n")
    with pytest.raises(ConfigError, match="printed listing of databricks_user_list.py.*-o"):
        read_users_file(write(tmp_path, printed))
    # Only the numbered lines, copied from a terminal, too.
    with pytest.raises(ConfigError, match="line 1 looks like the printed listing"):
        read_users_file(write(tmp_path, "    1. ana@x.com\n    2. bo@x.com\n"))


def test_a_line_that_never_ends_is_refused_without_reading_it_all(tmp_path):
    # /dev/zero as a users file: one endless line of NULs.
    with pytest.raises(ConfigError, match="line 1 is longer than 4096 characters"):
        read_users_file("/dev/zero")
    with pytest.raises(ConfigError, match="line 2 is longer"):
        read_users_file(write(tmp_path, "a@x.com\n" + "b" * 5000 + "\n"))
