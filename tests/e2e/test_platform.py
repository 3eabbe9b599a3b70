"""The tool against the platform as it is (issue 27), over real HTTP against the fake."""

from __future__ import annotations

from conftest import TOKEN
from dbx_inventory.clock import FakeClock
from dbx_inventory.errors import ConfigError, NotAnAdmin
from dbx_inventory.scan.scim import iter_users
from dbx_inventory.transport.auth import StaticToken
from dbx_inventory.transport.client import ApiClient, ClientConfig
from dbx_inventory.transport.settings import describe_profiles, resolve
from fake_workspace import Workspace
from fake_workspace.reserved import add_reserved_dbfs_places, refuse_mount

import pytest

USER_LIST, FILES = "databricks_user_list.py", "databricks_user_files_simple.py"


def client_for(server) -> ApiClient:
    return ApiClient(ClientConfig(host=server.url, credentials=StaticToken(TOKEN)),
                     clock=FakeClock())


def users_ws(n: int) -> Workspace:
    ws = Workspace()
    for i in range(n):
        name = f"user{i:02d}@x.com"
        ws.add_user(name)
        ws.workspace.add_file(f"/Users/{name}/nb.py", size=10)
    return ws


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


# --- 4. SCIM as it is -------------------------------------------------------------------

def test_users_paged_until_an_empty_page_not_total_results(serve):
    server = serve(users_ws(12), scim_max_page=5, scim_total_results=4)
    with client_for(server) as client:
        names = [user.user_name for user in iter_users(client)]
    assert names == [f"user{i:02d}@x.com" for i in range(12)]


def test_a_non_admin_token_is_not_read_as_no_users(serve):
    server = serve(users_ws(3), scim_non_admin=True)
    with client_for(server) as client, pytest.raises(NotAnAdmin, match="admin token"):
        list(iter_users(client))


def test_user_list_with_a_non_admin_token_stops_with_one_line(serve, cli, tmp_path):
    server = serve(users_ws(3), scim_non_admin=True)
    result = cli(USER_LIST, "-o", "users.txt", server=server)
    assert result.code == 1
    assert "an admin token is needed" in one_error_line(result)
    assert "Found 0 users" not in result.stdout
    assert not (tmp_path / "users.txt").exists()
    assert TOKEN not in result.output


def test_all_homes_with_a_non_admin_token_stops_before_writing(serve, cli, tmp_path):
    server = serve(users_ws(3), scim_non_admin=True)
    result = cli(FILES, "--all-homes", "--report", "r.html", server=server)
    assert result.code == 1
    assert "an admin token is needed" in one_error_line(result)
    assert "removed" not in result.stdout.lower()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "no-such-databrickscfg") \
        == []
    assert TOKEN not in result.output


# --- 3. throttles that are not 429; published starting rates -----------------------------

DBFS_LIST = "/api/2.0/dbfs/list"


def real_client(server) -> ApiClient:
    return ApiClient(ClientConfig(host=server.url, credentials=StaticToken(TOKEN)))


def test_a_throttle_with_another_status_is_retried_like_a_429(serve):
    ws = users_ws(1)
    ws.dbfs.add_file("/Users/user00@x.com/a.csv", size=5)
    # DBFS refuses beyond 4/s with 400 REQUEST_LIMIT_EXCEEDED (Retry-After 0.2 s).
    server = serve(ws, family_rate_limits={"dbfs": 4.0}, throttle_status=400,
                   retry_after="0.2")
    with real_client(server) as client:
        for _ in range(12):
            assert client.get(DBFS_LIST, {"path": "/Users/user00@x.com"})["files"]
        assert client.stats.as_dict()["dbfs"]["throttled"] == server.stats.by_status[400] >= 1
        assert "dbfs" in client.learned_rates()  # and it taught the pace


def test_a_scim_throttle_that_says_so_in_its_text_is_retried(serve):
    # SCIM's error shape, status 403, "RPC token bucket limit has been exceeded".
    server = serve(users_ws(12), scim_max_page=1, family_rate_limits={"scim": 2.0},
                   throttle_status=403, retry_after="0.2")
    with real_client(server) as client:
        assert len(list(iter_users(client))) == 12
    assert server.stats.by_status[403] >= 1


def test_families_start_at_their_published_rates_and_learn_upward(serve):
    ws = users_ws(1)
    server = serve(ws)
    clock = FakeClock()
    with ApiClient(ClientConfig(host=server.url, credentials=StaticToken(TOKEN)),
                   clock=clock) as client:
        for _ in range(5):
            client.get("/api/2.0/workspace/list", {"path": "/Users"})
        assert clock.sleeps == []  # the workspace API has no published rate: unpaced
        for _ in range(32):
            client.get(DBFS_LIST, {"path": "/"})
        # DBFS: 30 requests/s: a second's worth at once, then one every 1/30 s.
        assert clock.sleeps == pytest.approx([1 / 30])
        del clock.sleeps[:]
        for _ in range(6):
            client.get("/api/2.0/preview/scim/v2/Me")
        assert clock.sleeps == pytest.approx([60 / 255])  # SCIM reads: 255 a minute
        for _ in range(200):
            client.get(DBFS_LIST, {"path": "/"})
        assert client.pacer.pace("dbfs").rate >= 4 * 30  # no 429: it learned upward
        assert client.learned_rates() == {}  # a published start is no measure to hand on
        # ... but how far it ramped is handed on (the next Spark job ramps from there).
        reached = client.reached_rates()
        assert set(reached) == {"dbfs", "scim"}
        assert reached["dbfs"] == client.pacer.pace("dbfs").rate


# --- 9. settings like the SDK's, and safe -------------------------------------------------

OTHER_TOKEN = "dapi-OTHER-host-token-77aa"


def test_a_default_profile_token_for_another_host_is_refused(tmp_path):
    cfg = tmp_path / "cfg"
    cfg.write_text(f"[DEFAULT]\nhost = https://b.example.com\ntoken = {OTHER_TOKEN}\n")
    env = {"DATABRICKS_CONFIG_FILE": str(cfg), "DATABRICKS_HOST": "https://a.example.com"}
    with pytest.raises(ConfigError, match="only sent to its own host") as caught:
        resolve(env=env)
    assert OTHER_TOKEN not in str(caught.value)
    # The same host, however written, is the same source's.
    env["DATABRICKS_HOST"] = "b.example.com/"
    assert resolve(env=env).token == OTHER_TOKEN
    # A token of the environment's own goes with the environment's host.
    env.update(DATABRICKS_HOST="https://a.example.com", DATABRICKS_TOKEN=TOKEN)
    assert resolve(env=env).token == TOKEN


def test_default_profile_from_the_cli_settings_section(tmp_path):
    cfg = tmp_path / "cfg"
    cfg.write_text("[__settings__]\ndefault_profile = dev\n\n"
                   f"[DEFAULT]\nhost = https://d.example.com\ntoken = {OTHER_TOKEN}\n\n"
                   f"[dev]\nhost = https://dev.example.com\ntoken = {TOKEN}\n")
    env = {"DATABRICKS_CONFIG_FILE": str(cfg)}
    settings = resolve(env=env)
    assert (settings.host, settings.token, settings.profile) == (
        "https://dev.example.com", TOKEN, "dev")
    assert settings.source == "profile dev"
    lines = describe_profiles(env=env)
    assert "__settings__" not in "\n".join(lines)
    assert any(line.startswith("  dev (default): ") for line in lines)
    with pytest.raises(ConfigError, match="not found"):
        resolve(profile="__settings__", env=env)
    cfg.write_text("[__settings__]\ndefault_profile = gone\n\n[dev]\nhost = h.example.com\n")
    with pytest.raises(ConfigError, match="default_profile = gone .* names no profile"):
        resolve(env=env)


@pytest.mark.parametrize("script", [USER_LIST, FILES])
def test_no_request_carries_a_token_to_another_host(serve, cli, tmp_path, script):
    here, there = serve(users_ws(2)), serve(users_ws(2))
    cfg = tmp_path / "cfg"
    cfg.write_text(f"[DEFAULT]\nhost = {there.url}\ntoken = {TOKEN}\n")
    args = ("--all-homes",) if script == FILES else ()
    result = cli(script, *args, env={"DATABRICKS_HOST": here.url,
                                     "DATABRICKS_CONFIG_FILE": str(cfg)})
    assert result.code == 2
    assert "only sent to its own host" in one_error_line(result)
    assert TOKEN not in result.output
    assert here.stats.total_requests == 0 and there.stats.total_requests == 0


# --- 8. users who never signed in ---------------------------------------------------------

def test_users_without_any_home_are_counted_apart(serve, cli, tmp_path):
    ws = users_ws(1)
    ws.add_user("never.a@x.com")
    ws.add_user("never.b@x.com")
    server = serve(ws)
    result = cli(FILES, "user00@x.com", "never.a@x.com", "never.b@x.com", server=server)
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    errors = lines.index("  ✗ Errors: 2")
    assert lines[errors + 1] == \
        "    of which 2 users have no home folder (they may never have signed in)"
    text = (tmp_path / "results.csv").read_text(encoding="utf-8")
    assert text.count(",error,unknown,no home folder exists in DBFS or the Workspace: the "
                      "user may never have signed in\n") == 2


# --- 6. reserved DBFS places in --whole-workspace -----------------------------------------

def read_csv(path):
    import csv
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_reserved_places_and_refused_mounts_are_skipped_areas(serve, cli, tmp_path):
    ws = users_ws(2)
    add_reserved_dbfs_places(ws)
    ws.dbfs.add_file("/databricks/init/setup.sh", size=7)
    ws.dbfs.add_file("/mnt/lake/part-0", size=10)
    refuse_mount(ws, "/mnt/lake")
    ws.dbfs.add_file("/mnt/open/part-0", size=20)
    server = serve(ws)
    result = cli(FILES, "--whole-workspace", "--include-mounts", server=server)
    assert result.code == 0, result.output
    areas = {row["path"]: row for row in read_csv(tmp_path / "results_areas.csv")
             if row["file_system"] == "dbfs"}
    for alias in ("/Volume", "/Volumes", "/volume", "/volumes"):
        assert areas[alias]["status"] == "skipped", alias
        assert "volume" in areas[alias]["error"].lower()
    for place in ("/databricks/mlflow-tracking", "/databricks/mlflow-registry"):
        assert areas[place]["status"] == "skipped"
        assert "MLflow" in areas[place]["error"]
    assert (areas["/databricks"]["status"], areas["/databricks"]["file_count"]) == (
        "success", "1")
    assert areas["/mnt/lake"]["status"] == "skipped"
    assert "refused by the DBFS REST API" in areas["/mnt/lake"]["error"]
    assert "list it on a cluster" in areas["/mnt/lake"]["error"]
    assert (areas["/mnt/open"]["status"], areas["/mnt/open"]["total_size"]) == (
        "success", "20")
    assert not any(row["status"] == "error" for row in areas.values())
    # Nothing is listed inside a reserved place; the refused mount once, at its root.
    tried = [path for fs, path in server.stats.listing_attempts if fs == "dbfs"]
    assert not [p for p in tried if p.lower().startswith(("/volume", "/databricks/mlflow"))]
    assert tried.count("/mnt/lake") == 1


# --- 5. workspaces without DBFS -------------------------------------------------------------

def no_dbfs_ws() -> Workspace:
    ws = Workspace()
    ws.add_user("notes@x.com")
    ws.workspace.add_notebook("/Users/notes@x.com/analysis")
    ws.workspace.add_file("/Users/notes@x.com/data.csv", size=1234)
    ws.add_user("quiet@x.com")
    ws.workspace.mkdir("/Users/quiet@x.com")
    ws.dbfs.add_file("/Users/notes@x.com/old.parquet", size=10**6)  # there, but refused
    ws.workspace.add_file("/Shared/team.py", size=50)
    return ws


def test_a_workspace_without_dbfs_is_scanned_by_what_can_be_read(serve, cli, tmp_path):
    server = serve(no_dbfs_ws(), dbfs_disabled=True)
    result = cli(FILES, "notes@x.com", "quiet@x.com", "--report", "r.html", server=server)
    assert result.code == 0, result.output
    said = [line for line in result.stdout.splitlines()
            if "DBFS is not available on this workspace" in line]
    assert len(said) == 2  # once when found, once in SUMMARY
    assert said[0].startswith("⚠ DBFS is not available on this workspace (403")
    assert said[0].endswith("(DisableLegacyDbfs) (dbfs:/)): scanning WORKSPACE only")
    assert said[1].startswith("⚠ DBFS was not scanned: DBFS is not available")
    rows = {row["username"]: row for row in read_csv(tmp_path / "results.csv")}
    assert (rows["notes@x.com"]["status"], rows["notes@x.com"]["file_count"],
            rows["notes@x.com"]["total_size"]) == ("success", "2", "1234")
    assert (rows["quiet@x.com"]["status"], rows["quiet@x.com"]["error"]) == ("empty", "")
    assert server.stats.by_endpoint["dbfs/list"] == 0  # asked once, not per user
    assert server.stats.by_endpoint["dbfs/get-status"] == 1
    report = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "DBFS was not scanned" in report
    assert TOKEN not in result.output + report


def test_whole_workspace_without_dbfs(serve, cli, tmp_path):
    server = serve(no_dbfs_ws(), dbfs_disabled=True)
    result = cli(FILES, "--whole-workspace", server=server)
    assert result.code == 0, result.output
    assert "DBFS is not available on this workspace" in result.stdout
    rows = {row["username"]: row for row in read_csv(tmp_path / "results.csv")}
    assert rows["notes@x.com"]["status"] == "success"
    areas = read_csv(tmp_path / "results_areas.csv")
    assert [(a["file_system"], a["path"], a["file_count"]) for a in areas] == [
        ("workspace", "/Shared", "1")]
    assert server.stats.by_endpoint["dbfs/list"] == 0


def test_dbfs_only_without_dbfs_is_one_line(serve, cli, tmp_path):
    server = serve(no_dbfs_ws(), dbfs_disabled=True)
    result = cli(FILES, "notes@x.com", "--dbfs-only", server=server)
    assert result.code == 1
    assert "nothing to scan with --dbfs-only" in one_error_line(result)
    assert not (tmp_path / "results.csv").exists()


# --- 1. DBFS directories too large for the REST API -----------------------------------------

def too_large_ws() -> Workspace:
    ws = users_ws(2)
    home = "/Users/user00@x.com"
    for i in range(30):                                    # over N = 20: too large
        ws.dbfs.add_file(f"{home}/events/_delta_log/{i:020d}.json", size=100)
    ws.dbfs.add_file(f"{home}/events/part-0.parquet", size=5000)  # beside it: counted
    ws.dbfs.add_file(f"{home}/notes.txt", size=7)
    ws.dbfs.add_file("/Users/user01@x.com/a.csv", size=11)
    return ws


def test_a_directory_too_large_is_tried_twice_and_named_in_the_row(serve, cli, tmp_path):
    ws = too_large_ws()
    server = serve(ws, too_large_entries=20, too_large_delay_s=0.05)
    result = cli(FILES, "user00@x.com", "user01@x.com", "--dirs-output", "dirs.csv",
                 server=server)
    assert result.code == 0, result.output
    big = "/Users/user00@x.com/events/_delta_log"
    assert server.stats.listing_attempts[("dbfs", big)] == 2
    rows = {row["username"]: row for row in read_csv(tmp_path / "results.csv")}
    row = rows["user00@x.com"]
    # The rest of the tree is exact: the notebook, the part file, the notes.
    assert (row["status"], row["file_count"], row["total_size"]) == ("error", "3", "5017")
    assert f"dbfs:{big} is too large for the DBFS REST API" in row["error"]
    assert "taking too long to process your request" in row["error"]
    assert "list it on a cluster" in row["error"]
    assert (rows["user01@x.com"]["status"], rows["user01@x.com"]["total_size"]) == (
        "success", "21")
    dirs = {(d["file_system"], d["path"]): d for d in read_csv(tmp_path / "dirs.csv")}
    assert "too large for the DBFS REST API" in dirs[("dbfs", big)]["error"]
    assert "too large" in dirs[("dbfs", "/Users/user00@x.com/events")]["error"]
    assert TOKEN not in result.output


@pytest.mark.parametrize("answer", ["504", "timeout"])
def test_a_gateway_page_or_no_answer_after_a_long_wait_counts_too(serve, answer):
    from dbx_inventory.errors import ListingTooLarge
    from dbx_inventory.transport.retry import RetryPolicy

    ws = too_large_ws()
    # The fake waits 1.5 s; the client calls that long after 0.2 s, and with "timeout"
    # gives up on the answer after 0.6 s: the fake's wait always outlasts both.
    server = serve(ws, too_large_entries=20, too_large_delay_s=1.5, too_large_answer=answer)
    retry = RetryPolicy(too_large_after_s=0.2,
                        deadline_s=0.6 if answer == "timeout" else 150.0)
    config = ClientConfig(host=server.url, credentials=StaticToken(TOKEN), retry=retry)
    big = "/Users/user00@x.com/events/_delta_log"
    with ApiClient(config) as client:
        client.get(DBFS_LIST, {"path": "/Users"})  # answered: the workspace is there
        with pytest.raises(ListingTooLarge):
            client.get(DBFS_LIST, {"path": big}, subject=f"dbfs:{big}")
    assert server.stats.listing_attempts[("dbfs", big)] == 2


# --- 7. per-user DBFS data where it really lives: dbfs:/user/<name> --------------------------

def test_user_folders_of_dbfs_user_join_their_owners_rows(serve, cli, tmp_path):
    ws = Workspace()
    ws.add_user("ann@x.com")
    ws.workspace.add_file("/Users/ann@x.com/nb.py", size=5)
    app = "6f1c2d3e-0000-4000-8000-00000000abcd"
    ws.add_service_principal(app, "etl bot")
    ws.dbfs.add_file("/user/ann@x.com/scratch/a.parquet", size=100)
    ws.dbfs.add_file(f"/user/{app}/out/b.parquet", size=200)
    ws.dbfs.add_file("/user/gone@x.com/c.csv", size=300)          # known only here
    ws.dbfs.add_file("/user/hive/warehouse/sales/part-0", size=400)
    ws.dbfs.add_file("/user/spark-logs/app-1.log", size=500)
    ws.dbfs.add_file("/user/bob/d.txt", size=600)                 # no @, no one's name
    server = serve(ws)
    result = cli(FILES, "--whole-workspace", "--extended", server=server)
    assert result.code == 0, result.output
    rows = {row["username"]: row for row in read_csv(tmp_path / "results.csv")}
    assert (rows["ann@x.com"]["file_count"], rows["ann@x.com"]["total_size"],
            rows["ann@x.com"]["status"]) == ("2", "105", "success")
    assert (rows[app]["total_size"], rows[app]["user_status"]) == ("200", "service_principal")
    assert (rows["gone@x.com"]["total_size"], rows["gone@x.com"]["user_status"]) == (
        "300", "removed")
    assert "bob" not in rows and "spark-logs" not in rows
    areas = {(a["file_system"], a["path"]): a for a in read_csv(tmp_path / "results_areas.csv")}
    assert areas[("dbfs", "/user")]["total_size"] == "1100"           # spark-logs and bob
    assert areas[("dbfs", "/user/hive/warehouse")]["total_size"] == "400"


# --- 2. isolated 429s do not collapse the pace ------------------------------------------------

def dirs_ws(n: int) -> Workspace:
    ws = users_ws(1)
    for i in range(n):
        ws.dbfs.add_file(f"/d/{i:02d}/f.csv", size=1)
    return ws


def list_all(client, n: int) -> None:
    for i in range(n):
        assert client.get(DBFS_LIST, {"path": f"/d/{i:02d}"})["files"]


def test_isolated_429s_wait_retry_after_and_teach_nothing(serve):
    flaky = {f"dbfs:/d/{i:02d}": (429,) for i in (5, 30, 55)}  # 25 answers apart
    server = serve(dirs_ws(60), flaky_paths=flaky, retry_after="1")
    clock = FakeClock()
    config = ClientConfig(host=server.url, credentials=StaticToken(TOKEN),
                          published_rates=None)
    with ApiClient(config, clock=clock) as client:
        list_all(client, 60)
        assert server.stats.throttled == 3
        assert clock.sleeps.count(1.0) == 3          # each waited its Retry-After ...
        assert client.pacer.pace("dbfs").cuts == 0   # ... and cut nothing
        assert client.learned_rates() == {}
        assert client.throttle.cuts == 0


def test_clustered_429s_still_set_a_pace(serve):
    flaky = {f"dbfs:/d/{i:02d}": (429,) for i in (10, 11, 12)}  # three in a row
    server = serve(dirs_ws(20), flaky_paths=flaky, retry_after="1")
    config = ClientConfig(host=server.url, credentials=StaticToken(TOKEN),
                          published_rates=None)
    with ApiClient(config, clock=FakeClock()) as client:
        list_all(client, 20)
        assert client.pacer.pace("dbfs").cuts == 1
        assert "dbfs" in client.learned_rates()


def test_each_spark_job_starts_at_its_share_of_the_published_rates():
    from dbx_inventory.runners.spark.task import executor_config

    config = ClientConfig(host="https://w.example.com", credentials=StaticToken(TOKEN),
                          max_in_flight=20)
    job = executor_config(config, 5)
    assert job.published_rates == pytest.approx({"dbfs": 30 / 4, "scim": 255 / 60 / 4})
    # Earlier jobs' ramps got DBFS to 40/s of this share: the next one starts there,
    # still ramping (no measure); a ramp below the published share changes nothing.
    job = executor_config(config, 5, None, {"dbfs": 40.0, "scim": 0.5})
    assert job.published_rates == pytest.approx({"dbfs": 40.0, "scim": 255 / 60 / 4})
    assert not job.family_rates

