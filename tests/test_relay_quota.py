"""A borrower's signed requests cost the borrower nothing and the member's key sends them, so
one subject gets `--borrower-relays-per-day` relays in any 24 hours: past that the answer is
429 too_many_relays naming the subject key, with Retry-After, and nothing goes to the chain.
Refused requests (a stranger's signature) spend none of the subject's relays."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from node.app import create_app
from node.crypto import eip712
from node.crypto.subjects import make_resident_id
from node.relays import RelayQuota, TooManyRelays
from tests.conftest import authorize, bind_borrower, make_settings, node_of
from tests.test_consents_api import relay, typed


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_subjects_relays_are_counted_over_a_sliding_day_each_subject_on_its_own() -> None:
    clock = Clock()
    quota = RelayQuota(2, window=100.0, clock=clock)
    quota.take("0xAA")
    clock.now += 30
    quota.take("0xaa")  # the same subject, however its key is written
    quota.take("0xbb")
    with pytest.raises(TooManyRelays) as refused:
        quota.take("0xAA")
    assert refused.value.field == "subject_key"
    assert refused.value.headers() == {"Retry-After": "70"}  # the first one leaves the day
    clock.now += 70
    quota.take("0xaa")
    with pytest.raises(TooManyRelays):
        quota.take("0xaa")  # the refusal was not counted, the second still is


def test_past_the_quota_a_borrowers_consent_is_refused_and_nothing_is_sent(
    tmp_path: Path,
) -> None:
    app = create_app(make_settings(tmp_path / "data", borrower_relays_per_day=2),
                     run_batcher=False)  # fmt: skip
    with TestClient(app) as client:
        authorize(client, "admin")
        borrower, stranger = Account.create(), Account.create()
        bound = bind_borrower(client, borrower.address)
        assert bound.status_code == 200, bound.text
        subject = bound.json()["subject_key"]

        forged = relay(client, typed(client, subject, nonce="9"), stranger,
                       borrower=borrower.address)  # fmt: skip
        assert forged.status_code == 403  # refused before it counts
        first = relay(client, typed(client, subject, nonce="1"), borrower)
        assert first.status_code == 200, first.text
        consent_id = first.json()["consent_id"]
        revocation = client.get(
            "/v1/consents/revocation-typed-data", params={"consent_id": consent_id}
        ).json()
        revoked = client.post(
            f"/v1/consents/{consent_id}/revoke",
            json={"signature": eip712.sign(revocation, borrower.key), "borrower": borrower.address},
            headers={"Authorization": ""},
        )
        assert revoked.status_code == 200, revoked.text  # the second relay of the day

        head = node_of(client).chain.client.block_number()
        third = relay(client, typed(client, subject, nonce="2"), borrower)
        assert third.status_code == 429, third.text
        body = third.json()
        assert (body["error"], body["field"]) == ("too_many_relays", "subject_key")
        assert "at most 2 signed requests" in body["detail"] and subject not in body["detail"]
        assert 86_000 < int(third.headers["Retry-After"]) <= 86_400
        assert node_of(client).chain.client.block_number() == head  # nothing was sent

        other = Account.create()  # another subject's relays are its own
        other_bound = bind_borrower(client, other.address, make_resident_id(8))
        assert other_bound.status_code == 200, other_bound.text
        theirs = relay(client, typed(client, other_bound.json()["subject_key"]), other)
        assert theirs.status_code == 200, theirs.text
