"""Credentials against the fake workspace's OIDC endpoints over real HTTP: discovery,
the client-credentials grant, renewal timing (FakeClock, never sleeps), one renewer at a
time, one renewal and retry after a 401, and the secret kept out of everything."""

from __future__ import annotations

import pickle
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from dbx_inventory import scrub
from dbx_inventory.transport.auth import OAuthM2M, StaticToken
from dbx_inventory.transport.client import ApiClient, ClientConfig
from dbx_inventory.clock import FakeClock
from dbx_inventory.errors import OAuthFailed, Unauthenticated
from dbx_inventory.transport.retry import RetryPolicy
from fake_workspace import Workspace
from helpers import closed_port

CLIENT_ID = "sp-0c1d-4e2f"
SECRET = "dose-SECRET-client-7a6b5c4d"
ME = "/api/2.0/preview/scim/v2/Me"


@pytest.fixture
def issuer_server(serve):
    ws = Workspace()
    ws.add_user("a@x.com")
    server = serve(ws)
    server.oauth.register(CLIENT_ID, SECRET)
    return server


def m2m(server, clock=None, secret=SECRET, host=None) -> OAuthM2M:
    return OAuthM2M(host or server.url, CLIENT_ID, secret, clock=clock or FakeClock(),
                    wall=lambda: 1_000_000.0)


# --- a personal access token -----------------------------------------------------------

def test_static_token_is_fixed_picklable_and_hidden():
    token = StaticToken("dapi-static-SECRET-1234")
    assert token.headers() == {"Authorization": "Bearer dapi-static-SECRET-1234"}
    assert token.access_token() == ("dapi-static-SECRET-1234", None)
    assert token.renew_after_401(token.headers()) is False
    assert token.describe() == "personal access token"
    assert pickle.loads(pickle.dumps(token)) == token
    assert "SECRET" not in repr(token)


# --- the grant ------------------------------------------------------------------------

def test_token_from_discovered_endpoint_is_accepted_by_the_api(issuer_server):
    creds = m2m(issuer_server)
    headers = creds.headers()
    assert headers["Authorization"].startswith("Bearer eyJfake.")
    assert issuer_server.oauth.minted == 1
    with ApiClient(ClientConfig(host=issuer_server.url, credentials=creds)) as client:
        assert client.get(ME)["userName"] == "a@x.com"
    assert issuer_server.oauth.minted == 1  # the same token served both


def test_falls_back_to_the_usual_token_path_without_metadata(issuer_server):
    issuer_server.oauth.metadata = False
    creds = m2m(issuer_server)
    creds.headers()
    assert issuer_server.oauth.minted == 1


def test_access_token_and_its_expiry_in_epoch_seconds(issuer_server):
    issuer_server.oauth.lifetime_s = 600
    creds = m2m(issuer_server)
    value, expiry = creds.access_token()
    assert creds.headers() == {"Authorization": f"Bearer {value}"}
    assert expiry == pytest.approx(1_000_000.0 + 600)
    assert creds.describe() == "OAuth client credentials"


def test_wrong_secret_is_one_refusal_naming_host_never_the_secret(issuer_server):
    creds = m2m(issuer_server, secret="wrong-SECRET-value-0000")
    with pytest.raises(OAuthFailed) as info:
        creds.headers()
    text = str(info.value)
    assert "OAuth client credentials" in text and issuer_server.url in text
    assert "invalid_client" in text
    assert "wrong-SECRET" not in text and SECRET not in text
    assert issuer_server.oauth.refused == 1  # a refusal is not retried
    assert isinstance(info.value, Unauthenticated)  # a scan stops on it, as on a dead PAT


def test_no_token_endpoint_gives_up_after_a_few_waits(serve):
    clock = FakeClock()
    creds = OAuthM2M(f"http://127.0.0.1:{closed_port()}", CLIENT_ID, SECRET, clock=clock)
    with pytest.raises(OAuthFailed, match="could not get an OAuth access token"):
        creds.headers()
    assert len(clock.sleeps) == 3  # four tries, waits on the fake clock only


def test_secret_and_every_token_are_scrubbed(issuer_server):
    scrub.forget_all()
    creds = m2m(issuer_server)
    first, _ = creds.access_token()
    assert scrub.scrub(f"x {SECRET} y {first}") == "x **** y ****"


def test_never_pickled_and_repr_hides_the_secret(issuer_server):
    creds = m2m(issuer_server)
    creds.headers()
    with pytest.raises(TypeError, match="never pickled"):
        pickle.dumps(creds)
    with pytest.raises(TypeError):
        pickle.dumps(ClientConfig(host=issuer_server.url, credentials=creds))
    assert SECRET not in repr(creds) and CLIENT_ID in repr(creds)


# --- renewal timing (FakeClock) -------------------------------------------------------

@pytest.mark.parametrize("lifetime,stale_at,usable_until", [
    (3600, 2400, 3560),  # an hour: renewed with 20 min left, never sent in its last 40 s
    (100, 50, 75),       # short: renewed at half life; a quarter of it is the margin
])
def test_renewed_early_once_stale_and_never_sent_near_expiry(issuer_server, lifetime,
                                                             stale_at, usable_until):
    oauth = issuer_server.oauth
    oauth.lifetime_s = lifetime
    clock = FakeClock(start=0.0)
    creds = m2m(issuer_server, clock)
    first = creds.headers()
    clock.now = stale_at - 0.5
    assert creds.headers() == first and oauth.minted == 1
    clock.now = stale_at + 0.5
    second = creds.headers()
    assert second != first and oauth.minted == 2
    # The second token was minted at stale_at + 0.5; make its early renewal fail.
    oauth.clients.clear()
    clock.now = stale_at + 0.5 + stale_at + 0.5
    assert creds.headers() == second and oauth.refused == 1  # still valid: kept
    clock.now = stale_at + 0.5 + usable_until - 0.5
    assert creds.headers() == second and oauth.refused == 2  # tried again, kept
    clock.now = stale_at + 0.5 + usable_until + 0.5
    with pytest.raises(OAuthFailed):
        creds.headers()  # too close to expiry to send: a new one or nothing
    oauth.register(CLIENT_ID, SECRET)
    assert creds.headers() not in (first, second) and oauth.minted == 3


def test_one_thread_renews_while_the_others_keep_the_valid_token(issuer_server):
    oauth = issuer_server.oauth
    oauth.lifetime_s = 100
    clock = FakeClock(start=0.0)
    creds = m2m(issuer_server, clock)
    first = creds.headers()
    clock.now = 60  # stale (renew after 50), still usable (until 75)
    oauth.gate = threading.Event()  # the server holds the renewal open
    with ThreadPoolExecutor(4) as pool:
        renewer = pool.submit(creds.headers)
        assert oauth.held.wait(timeout=30)
        others = [pool.submit(creds.headers) for _ in range(20)]
        assert all(f.result(timeout=30) == first for f in others)  # nobody blocked
        clock.now = 80  # now too close to expiry: a caller must wait for the renewal
        waiter = pool.submit(creds.headers)
        assert not waiter.done()
        oauth.gate.set()
        renewed = renewer.result(timeout=30)
        assert renewed != first and waiter.result(timeout=30) == renewed
    assert oauth.minted == 2


# --- a 401 mid-run ---------------------------------------------------------------------

def test_a_token_refused_before_its_time_is_renewed_once_and_the_request_retried(
        issuer_server):
    creds = m2m(issuer_server)
    with ApiClient(ClientConfig(host=issuer_server.url, credentials=creds),
                   clock=FakeClock()) as client:
        client.get(ME)
        issuer_server.oauth.expire_all()  # e.g. revoked, or the clocks disagree
        assert client.get(ME)["userName"] == "a@x.com"
    assert issuer_server.oauth.minted == 2
    assert issuer_server.oauth.expired_used == 1


def test_a_workspace_refusing_every_token_costs_one_renewal_not_a_loop(issuer_server):
    issuer_server.oauth.lifetime_s = 0.000001  # dead on arrival (the client's clock stands)
    creds = m2m(issuer_server)
    with ApiClient(ClientConfig(host=issuer_server.url, credentials=creds,
                                retry=RetryPolicy(attempts=5)), clock=FakeClock()) as client:
        with pytest.raises(Unauthenticated):
            client.get(ME)
    assert issuer_server.oauth.minted == 2
    assert issuer_server.oauth.expired_used == 2


def test_renewal_after_401_skips_minting_when_another_thread_already_did(issuer_server):
    creds = m2m(issuer_server)
    old = creds.headers()
    assert creds.renew_after_401(old) is True
    assert issuer_server.oauth.minted == 2
    assert creds.renew_after_401(old) is True  # stale news: the current token is newer
    assert issuer_server.oauth.minted == 2
