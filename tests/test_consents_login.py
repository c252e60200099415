"""A borrower's login: a fresh EIP-712 Login signed by an address bound to the subject, for this
node, used once; each refusal its own code."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from node.consents import errors
from node.consents.login import verify_login
from node.crypto import eip712
from tests.conftest import bind_borrower, node_of


class Login:
    """Signs logins for the node of `client` and checks them there."""

    def __init__(self, client: TestClient) -> None:
        self.node = node_of(client)
        self.address = self.node.chain.client.account.address

    def message(self, subject: str, **overrides: Any) -> dict[str, Any]:
        message = {"subjectKey": subject, "node": self.address, "issuedAt": int(time.time()),
                   "nonce": "0x" + os.urandom(32).hex()}  # fmt: skip
        message.update(overrides)
        return message

    def sign(self, message: dict[str, Any], key: LocalAccount) -> str:
        chain = self.node.chain
        data = eip712.login_typed_data(
            message, eip712.domain(chain.chain_id, chain.addresses["ConsentRegistry"])
        )
        return eip712.sign(data, key.key)

    def verify(self, message: dict[str, Any], signature: str, **kw: Any) -> str:
        chain = self.node.chain
        return verify_login(self.node.index, message=message, signature=signature,
                            node=self.address, chain_id=chain.chain_id,
                            registry=chain.addresses["ConsentRegistry"], **kw)  # fmt: skip


@pytest.fixture
def login(node_client: TestClient) -> tuple[Login, LocalAccount, str]:
    borrower = Account.create()
    resp = bind_borrower(node_client, borrower.address)
    assert resp.status_code == 200, resp.text
    return Login(node_client), borrower, resp.json()["subject_key"]


def test_a_fresh_login_signed_by_a_bound_address_opens_its_subject(login: tuple) -> None:
    checker, borrower, subject = login
    message = checker.message(subject)
    assert checker.verify(message, checker.sign(message, borrower)) == subject


def test_the_login_typed_data_the_node_hands_out_is_the_one_it_checks(
    node_client: TestClient, login: tuple
) -> None:
    checker, borrower, subject = login
    nonce = "0x" + os.urandom(32).hex()
    data = node_client.get("/v1/consents/login-typed-data", params={
        "subject_key": subject, "issued_at": int(time.time()), "nonce": nonce}).json()  # fmt: skip
    assert data["primaryType"] == "Login" and data["message"]["node"] == checker.address
    signature = eip712.sign(data, borrower.key)
    assert checker.verify(data["message"], signature) == subject


def test_a_forged_login_is_refused(login: tuple) -> None:
    checker, borrower, subject = login
    message = checker.message(subject)
    signature = checker.sign(message, borrower)
    for bad in ("0x" + "00" * 65, signature[:-2], signature[:66] + "f" * 64 + signature[-2:]):
        with pytest.raises(errors.LoginForged) as refused:
            checker.verify(message, bad)
        assert refused.value.code == "login_forged"
    elsewhere = checker.message(subject, node=Account.create().address)
    with pytest.raises(errors.LoginForged) as refused:
        checker.verify(elsewhere, checker.sign(elsewhere, borrower))
    assert refused.value.field == "node"


def test_a_login_by_an_unbound_address_is_refused(login: tuple) -> None:
    checker, borrower, subject = login
    message = checker.message(subject)
    with pytest.raises(errors.LoginUnbound) as refused:
        checker.verify(message, checker.sign(message, Account.create()))
    assert refused.value.code == "login_unbound"
    other = checker.message("0x" + "cd" * 32)  # the borrower's key, another subject
    with pytest.raises(errors.LoginUnbound):
        checker.verify(other, checker.sign(other, borrower))


def test_a_stale_login_is_refused(login: tuple) -> None:
    checker, borrower, subject = login
    now = time.time()
    old = checker.message(subject, issuedAt=int(now) - 301)
    with pytest.raises(errors.LoginStale) as refused:
        checker.verify(old, checker.sign(old, borrower), now=now)
    assert refused.value.code == "login_stale"
    assert checker.verify(old, checker.sign(old, borrower), now=now, max_age=600) == subject
    ahead = checker.message(subject, issuedAt=int(now) + 3600)
    with pytest.raises(errors.LoginStale):
        checker.verify(ahead, checker.sign(ahead, borrower), now=now)


def test_a_replayed_login_is_refused(login: tuple) -> None:
    checker, borrower, subject = login
    message = checker.message(subject)
    signature = checker.sign(message, borrower)
    assert checker.verify(message, signature) == subject
    with pytest.raises(errors.LoginReplayed) as refused:
        checker.verify(message, signature)
    assert refused.value.code == "login_replayed"
    refused_first = checker.message(subject, issuedAt=0)  # a refused login uses no nonce
    with pytest.raises(errors.LoginStale):
        checker.verify(refused_first, checker.sign(refused_first, borrower))
    fresh = {**refused_first, "issuedAt": int(time.time())}
    assert checker.verify(fresh, checker.sign(fresh, borrower)) == subject
