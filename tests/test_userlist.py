"""The users file: comments, blanks, CSV first column, header, BOM, dedupe, errors."""

from __future__ import annotations

import pytest

from dbx_inventory.errors import ConfigError
from dbx_inventory.userlist import parse_users, read_users_file


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


def test_case_insensitive_dedupe_keeps_first_spelling_and_order(tmp_path):
    path = write(tmp_path, "Alice@X.com\nbob@x.com\nalice@x.com\nBOB@X.COM\ncarol@x.com\n")
    assert read_users_file(path) == ["Alice@X.com", "bob@x.com", "carol@x.com"]


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
    assert parse_users(["  x@y.z ", "#c", "", "X@Y.Z", "w@y.z,extra"]) == ["x@y.z", "w@y.z"]


def test_unicode_names_case_folded(tmp_path):
    path = write(tmp_path, "STRASSE@x.com\nstraße@x.com\nzoë@x.com\nZOË@x.com\n")
    # casefold: 'straße' -> 'strasse', so the second is a twin of the first
    assert read_users_file(path) == ["STRASSE@x.com", "zoë@x.com"]
