"""The signed NetSuite client against the stand-in, which checks every signature with its
own RFC 5849 code (no database)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from arportal.plugins.late_fees_netsuite import netsuite
from arportal.plugins.late_fees_netsuite.netsuite import NetSuiteClient, NetSuiteError
from arportal.plugins.late_fees_netsuite.settings import LateFeeSettings
from tests.plugins.late_fees_netsuite.standin import NetSuiteStandIn, signature


def settings_for(standin: NetSuiteStandIn, **overrides: Any) -> LateFeeSettings:
    return msgspec.convert(standin.settings(**overrides), LateFeeSettings)


def invoice(external_id: str = "arportal-acme-fee-1-1", entity: str = "C-1") -> dict[str, Any]:
    return {
        "externalId": external_id,
        "entity": {"id": entity},
        "tranDate": "2026-11-03",
        "item": {"items": [{"item": {"id": "900"}, "quantity": 1, "rate": Decimal("300.00"),
                            "amount": Decimal("300.00"), "description": "Late fee"}]},
    }


def test_the_standin_signature_matches_the_rfc_5849_example_shape() -> None:
    """The stand-in's own signer, checked on a hand-computed HMAC-SHA256 base string."""
    import base64
    import hashlib
    import hmac

    oauth = {"oauth_consumer_key": "ck", "oauth_token": "tk", "oauth_nonce": "n",
             "oauth_timestamp": "1", "oauth_signature_method": "HMAC-SHA256",
             "oauth_version": "1.0", "realm": "ignored"}
    base = (
        "GET&http%3A%2F%2Fh%3A8%2Fp%20q&"
        "a%3D1%252B%26oauth_consumer_key%3Dck%26oauth_nonce%3Dn%26oauth_signature_method"
        "%3DHMAC-SHA256%26oauth_timestamp%3D1%26oauth_token%3Dtk%26oauth_version%3D1.0"
    )
    expected = base64.b64encode(
        hmac.new(b"c%26s&t", base.encode(), hashlib.sha256).digest()
    ).decode()
    assert signature("get", "http://h:8/p q", "a=1%2B", oauth, "c&s", "t") == expected


async def test_a_signed_invoice_is_created_and_the_realm_is_the_account(
    standin: NetSuiteStandIn,
) -> None:
    async with NetSuiteClient(settings_for(standin)) as client:
        created = await client.create("invoice", invoice())
    assert created.internal_id.isdigit() and not created.duplicate
    (record,) = standin.created()
    assert record["externalId"] == "arportal-acme-fee-1-1"
    line = record["item"]["items"][0]
    assert line["amount"] == Decimal("300.00"), "amounts travel as JSON numbers, never floats"
    assert standin.auth_errors == []


async def test_a_query_string_is_part_of_the_signature(standin: NetSuiteStandIn) -> None:
    async with NetSuiteClient(settings_for(standin)) as client:
        response = await client.request("GET", "/services/rest/record/v1/invoice",
                                        params={"limit": 1, "q": "a b+c/é"})
    assert response.status_code == 200 and standin.auth_errors == []


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"token_secret": "ts-wrong"}, "signature mismatch"),
        ({"consumer_secret": "cs-wrong"}, "signature mismatch"),
        ({"account_id": "7654321"}, "realm '7654321' is not account 1234567_SB1"),
        ({"token_id": "tid-other"}, "unknown token"),
    ],
)
async def test_wrong_credentials_are_refused_in_words_without_the_secrets(
    standin: NetSuiteStandIn, override: dict[str, str], reason: str
) -> None:
    async with NetSuiteClient(settings_for(standin, **override)) as client:
        with pytest.raises(NetSuiteError) as caught:
            await client.create("invoice", invoice())
    assert standin.auth_errors == [reason]
    assert caught.value.connection and caught.value.status == 401
    message = caught.value.message
    assert "NetSuite refused the credentials" in message and "INVALID_LOGIN" in message
    for secret in (standin.account.consumer_secret, standin.account.token_secret):
        assert secret not in message
    assert standin.created() == []


async def test_a_sandbox_account_id_is_written_as_netsuite_writes_realms(
    standin: NetSuiteStandIn,
) -> None:
    async with NetSuiteClient(settings_for(standin, account_id="1234567-sb1")) as client:
        assert (await client.create("invoice", invoice())).internal_id
    assert standin.auth_errors == []


async def test_429_and_500_are_retried_with_backoff(standin: NetSuiteStandIn) -> None:
    standin.fail_next(429)
    standin.fail_next(500)
    async with NetSuiteClient(settings_for(standin)) as client:
        created = await client.create("invoice", invoice())
    assert [r.status for r in standin.posts()] == [429, 500, 204]
    assert len(standin.created()) == 1 and created.internal_id


async def test_retries_run_out_into_a_retryable_error(standin: NetSuiteStandIn) -> None:
    standin.fail_next(503, times=netsuite.ATTEMPTS)
    async with NetSuiteClient(settings_for(standin)) as client:
        with pytest.raises(NetSuiteError) as caught:
            await client.create("invoice", invoice())
    assert caught.value.retryable and "503" in caught.value.message
    assert len(standin.posts()) == netsuite.ATTEMPTS and standin.created() == []


async def test_an_answer_lost_after_the_commit_never_makes_a_second_invoice(
    standin: NetSuiteStandIn,
) -> None:
    standin.fail_next(500, after_commit=True)
    async with NetSuiteClient(settings_for(standin)) as client:
        created = await client.create("invoice", invoice())
    assert created.duplicate
    (record,) = standin.created()
    assert record["id"] == created.internal_id
    assert [r.status for r in standin.posts()] == [500, 400], "the retry met the duplicate"


async def test_a_timeout_is_retried_and_the_external_id_keeps_it_single(
    standin: NetSuiteStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(netsuite, "TIMEOUT_SECONDS", 0.5)
    standin.fail_next(204, after_commit=True, delay=1.5)
    async with NetSuiteClient(settings_for(standin)) as client:
        created = await client.create("invoice", invoice())
    assert created.duplicate and len(standin.created()) == 1


async def test_a_validation_error_carries_netsuites_message(standin: NetSuiteStandIn) -> None:
    async with NetSuiteClient(settings_for(standin)) as client:
        with pytest.raises(NetSuiteError) as caught:
            await client.create("invoice", invoice(entity="NOPE"))
    error = caught.value
    assert not error.retryable and not error.connection and error.status == 400
    assert error.message == (
        "INVALID_FLD_VALUE: Invalid Field Value NOPE for the following field: entity"
    )


async def test_a_credit_memo_is_made_from_the_invoice_once(standin: NetSuiteStandIn) -> None:
    async with NetSuiteClient(settings_for(standin)) as client:
        created = await client.create("invoice", invoice())
        body = {"externalId": "arportal-acme-fee-1-1-credit", "tranDate": "2026-11-04"}
        memo = await client.transform("invoice", created.internal_id, "creditMemo", body)
        again = await client.transform("invoice", created.internal_id, "creditMemo", body)
    assert again.duplicate and again.internal_id == memo.internal_id
    (record,) = standin.created("creditMemo")
    assert record["createdFrom"] == created.internal_id


async def test_check_says_what_works_and_what_does_not(standin: NetSuiteStandIn) -> None:
    async with NetSuiteClient(settings_for(standin)) as client:
        assert await client.check() == [
            "signed in to NetSuite account 1234567_SB1 and read invoices",
            "fee lines will use item 900 (Late fee)",
        ]
    async with NetSuiteClient(settings_for(standin, fee_item_id="901")) as client:
        with pytest.raises(NetSuiteError, match="fee_item_id 901 is not an item"):
            await client.check()
    standin.account.items["900"]["isinactive"] = "T"
    async with NetSuiteClient(settings_for(standin)) as client:
        with pytest.raises(NetSuiteError, match=r"fee_item_id 900 \(Late fee\) is inactive"):
            await client.check()


async def test_an_unreachable_server_is_said_in_words(
    standin: NetSuiteStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(netsuite, "ATTEMPTS", 2)
    standin.server.shutdown()
    standin.server.server_close()
    async with NetSuiteClient(settings_for(standin)) as client:
        with pytest.raises(NetSuiteError, match="could not reach NetSuite at http://127.0.0.1"):
            await client.check()


async def test_no_credential_reaches_the_logs(
    standin: NetSuiteStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    standin.fail_next(429)
    async with NetSuiteClient(settings_for(standin)) as client:
        await client.create("invoice", invoice())
        with pytest.raises(NetSuiteError):
            await client.create("invoice", invoice("x", entity="NOPE"))
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "trying again" in logged
    for secret in (standin.account.consumer_secret, standin.account.token_secret,
                   standin.account.consumer_key, standin.account.token_id):
        assert secret not in logged
