"""Login, tokens, WhoAmI, RenewLoginToken and Logout over raw HTTP (wire contract §3)."""

from __future__ import annotations

import re
from xml.etree.ElementTree import fromstring

import pytest
from starlette.testclient import TestClient

from tests.catalogues import Catalogue
from tests.conftest import (
    ADMIN_PASSWORD,
    API,
    JSON_HEADERS,
    XML_HEADERS,
    FakeClock,
    b64,
    login,
)

# token headers and login bodies are parsed before the store:
# the same on both backends (tests/conftest.py).

EMPTY_XML_POST = {"Content-type": "application/xml", "Content-Length": "0"}


def xml_login_body(user: str, password: str) -> str:
    return f'<DM2ContentIndexing_CheckCredentialReq username="{user}" password="{b64(password)}"/>'


def test_json_login_answers_token_and_user(client: TestClient) -> None:
    response = client.post(
        API + "Login",
        json={
            "username": "admin",
            "password": b64(ADMIN_PASSWORD),
            "domain": "",
            "mode": 4,
            "deviceId": "x",
            "clientType": 30,
            "commserver": "",
        },
        headers=JSON_HEADERS,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["userName"] == "admin"
    scheme, secret = body["token"].split(" ")
    assert scheme == "QSDK"
    # 545 lowercase hex digits, like the vendor's: odd, as a PHP client needs (issue 10).
    assert len(secret) == 545 and re.fullmatch("[0-9a-f]+", secret)
    for field in (
        "aliasName",
        "userGUID",
        "ccn",
        "loginAttempts",
        "remainingLockTime",
        "isAccountLocked",
        "forcePasswordChange",
    ):
        assert field in body


def test_xml_login_answers_xml(client: TestClient) -> None:
    body = xml_login_body("admin", ADMIN_PASSWORD)
    response = client.post(
        API + "Login",
        content=body,
        headers={"Content-type": "application/xml", "Accept": "application/xml"},
    )
    assert response.status_code == 200
    root = fromstring(response.content)
    assert root.tag == "DM2ContentIndexing_CheckCredentialResp"
    assert root.attrib["userName"] == "admin"
    assert root.attrib["token"].startswith("QSDK ")


def test_login_username_is_case_insensitive(client: TestClient) -> None:
    assert login(client, "ADMIN").startswith("QSDK ")


@pytest.mark.parametrize(
    ("user", "password"), [("admin", "wrong-password"), ("nobody", ADMIN_PASSWORD)]
)
def test_bad_credentials_answer_200_with_errlist(
    client: TestClient, user: str, password: str
) -> None:
    response = client.post(
        API + "Login", json={"username": user, "password": b64(password)}, headers=JSON_HEADERS
    )
    assert response.status_code == 200
    assert response.json() == {
        "errList": [{"errorCode": 1116, "errLogMessage": "Invalid Username or Password"}]
    }


def test_bad_credentials_in_xml(client: TestClient) -> None:
    response = client.post(
        API + "Login",
        content=xml_login_body("admin", "nope-nope"),
        headers={"Content-type": "application/xml", "Accept": "application/xml"},
    )
    root = fromstring(response.content)
    assert root.tag == "DM2ContentIndexing_CheckCredentialResp"
    err = root.find("errList")
    assert err is not None and err.attrib["errorCode"] == "1116"


@pytest.mark.parametrize("password", ["not base64!", "YWJ", "/w==", ADMIN_PASSWORD])
def test_a_password_that_is_not_base64_is_a_wrong_password(
    client: TestClient, catalogue: Catalogue, password: str
) -> None:
    """The vendor answers 200 with errList 1116 (issue 10; /w== is not UTF-8); even the
    right password sent without its Base64 is wrong, and counts as a failure."""
    response = client.post(
        API + "Login", json={"username": "admin", "password": password}, headers=JSON_HEADERS
    )
    assert response.status_code == 200
    assert response.json() == {
        "errList": [{"errorCode": 1116, "errLogMessage": "Invalid Username or Password"}]
    }
    assert catalogue.sql("SELECT outcome FROM audit WHERE action = 'login'") == [("failed",)]


@pytest.mark.parametrize(
    "body", [{}, {"username": "admin"}, {"password": "YQ=="}, {"username": 5, "password": "YQ=="}]
)
def test_login_missing_fields_is_a_400(client: TestClient, body: dict[str, object]) -> None:
    response = client.post(API + "Login", json=body, headers=JSON_HEADERS)
    assert response.status_code == 400
    assert response.json()["errorCode"] == 1


def test_unreadable_login_body_is_a_400_in_xml(client: TestClient) -> None:
    response = client.post(
        API + "Login",
        content=b"<DM2ContentIndexing_CheckCredentialReq",
        headers={"Content-type": "application/xml", "Accept": "application/xml"},
    )
    assert response.status_code == 400
    assert fromstring(response.content).tag == "CVGui_GenericResp"


def test_tokens_and_passwords_are_stored_only_as_hashes(
    client: TestClient, catalogue: Catalogue
) -> None:
    secret = login(client).split(" ")[1]
    hashes = [row[0] for row in catalogue.sql("SELECT password_hash FROM accounts")]
    sessions = [bytes(row[0]) for row in catalogue.sql("SELECT token_hash FROM sessions")]
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert ADMIN_PASSWORD not in "".join(hashes)
    assert sessions and all(
        secret.encode() not in s and bytes.fromhex(secret[:544]) not in s for s in sessions
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authtoken": "QSDK 0123456789abcdef"},
        {"Authtoken": ""},
        {"Authorization": "Bearer nope"},
    ],
)
def test_missing_or_unknown_token_is_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get(API + "Job/4", headers={**headers, **JSON_HEADERS})
    assert response.status_code == 401
    assert response.json()["errorCode"] == 5
    assert "Access denied" in response.json()["errorMessage"]


def test_401_in_xml(client: TestClient) -> None:
    response = client.get(API + "Job/4", headers=XML_HEADERS)
    assert response.status_code == 401
    root = fromstring(response.content)
    assert root.tag == "CVGui_GenericResp"
    assert root.attrib["errorCode"] == "5"


@pytest.mark.parametrize("form", ["QSDK {}", "{}", "Bearer {}", "SAML {}"])
def test_token_forms_in_authtoken(client: TestClient, token: str, form: str) -> None:
    secret = token.split(" ")[1]
    response = client.get(API + "Job/4", headers={"Authtoken": form.format(secret), **JSON_HEADERS})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "root", ["commandcenter/api", "webconsole/api", "SearchSvc/CVWebService.svc"]
)
def test_cookie2_carries_the_token_on_every_root(client: TestClient, token: str, root: str) -> None:
    """Clients of the old web-service root (the Morpheus plugin, a Jobs-to-SQL exporter)
    send the token only as Cookie2 after an XML Login (issue 10)."""
    response = client.get(f"/{root}/Job/4", headers={"Cookie2": token, **JSON_HEADERS})
    assert response.status_code == 200
    assert response.json()["totalRecordsWithoutPaging"] == 1
    forged = client.get(f"/{root}/Job/4", headers={"Cookie2": "QSDK 00ff", **JSON_HEADERS})
    assert forged.status_code == 401


def test_authorization_bearer(client: TestClient, token: str) -> None:
    secret = token.split(" ")[1]
    response = client.get(
        API + "Job/4", headers={"Authorization": f"Bearer {secret}", **JSON_HEADERS}
    )
    assert response.status_code == 200


def test_token_expires_after_30_idle_minutes_and_slides(
    client: TestClient, token: str, clock: FakeClock
) -> None:
    headers = {"Authtoken": token, **JSON_HEADERS}
    clock.advance(29 * 60)
    assert client.get(API + "Job/4", headers=headers).status_code == 200
    clock.advance(29 * 60)  # 58 minutes after login, 29 after the last use
    assert client.get(API + "Job/4", headers=headers).status_code == 200
    clock.advance(31 * 60)
    response = client.get(API + "Job/4", headers=headers)
    assert response.status_code == 401
    assert "expired" in response.json()["errorMessage"]


def test_login_timeout_sets_the_idle_limit(client: TestClient, clock: FakeClock) -> None:
    response = client.post(
        API + "Login",
        json={"username": "admin", "password": b64(ADMIN_PASSWORD), "timeout": 2},
        headers=JSON_HEADERS,
    )
    headers = {"Authtoken": response.json()["token"], **JSON_HEADERS}
    clock.advance(119)
    assert client.get(API + "Job/4", headers=headers).status_code == 200
    clock.advance(121)
    assert client.get(API + "Job/4", headers=headers).status_code == 401


@pytest.mark.parametrize("timeout", [-1, "abc", 10**9])
def test_bad_login_timeout_is_a_400(client: TestClient, timeout: object) -> None:
    response = client.post(
        API + "Login",
        json={"username": "admin", "password": b64(ADMIN_PASSWORD), "timeout": timeout},
        headers=JSON_HEADERS,
    )
    assert response.status_code == 400


def test_who_am_i_json_and_xml(client: TestClient, token: str) -> None:
    response = client.post(
        API + "WhoAmI", headers={"Authtoken": token, **EMPTY_XML_POST, **JSON_HEADERS}
    )
    assert response.status_code == 200
    assert response.json()["user"]["userName"] == "admin"
    assert isinstance(response.json()["user"]["userId"], int)
    response = client.post(API + "whoami", headers={"Authtoken": token, **EMPTY_XML_POST})
    root = fromstring(response.content)
    assert root.tag == "CvEntities_ProcessingInstructionInfo"
    user = root.find("user")
    assert user is not None and user.attrib["userName"] == "admin"


def test_renew_swaps_an_expired_token(client: TestClient, token: str, clock: FakeClock) -> None:
    clock.advance(31 * 60)
    assert (
        client.get(API + "Job/4", headers={"Authtoken": token, **JSON_HEADERS}).status_code == 401
    )
    response = client.post(
        API + "RenewLoginToken",
        json={"sessionId": token, "deviceId": "host"},
        headers={"Authtoken": token, **JSON_HEADERS},
    )
    assert response.status_code == 200
    new = response.json()["token"]
    assert new.startswith("QSDK ") and new != token
    assert client.get(API + "Job/4", headers={"Authtoken": new, **JSON_HEADERS}).status_code == 200
    # The old token is gone: it can be neither used nor renewed again.
    again = client.post(API + "RenewLoginToken", json={"sessionId": token}, headers=JSON_HEADERS)
    assert "errLogMessage" in again.json()["error"]


def test_renew_after_logout_fails(client: TestClient, token: str) -> None:
    client.post(API + "Logout", headers={"Authtoken": token, **EMPTY_XML_POST})
    response = client.post(API + "RenewLoginToken", json={"sessionId": token}, headers=JSON_HEADERS)
    assert response.status_code == 200
    assert response.json()["error"]["errLogMessage"] == "Invalid authorization token provided."


def test_renew_too_late_fails(client: TestClient, token: str, clock: FakeClock) -> None:
    clock.advance(25 * 3600)
    response = client.post(API + "RenewLoginToken", json={"sessionId": token}, headers=JSON_HEADERS)
    assert "log in again" in response.json()["error"]["errLogMessage"]


def test_renew_in_xml(client: TestClient, token: str) -> None:
    response = client.post(
        API + "RenewLoginToken",
        content=f'<DM2ContentIndexing_RenewTokenReq sessionId="{token}"/>',
        headers={"Content-type": "application/xml", "Accept": "application/xml"},
    )
    assert fromstring(response.content).attrib["token"].startswith("QSDK ")


def test_logout(client: TestClient, token: str) -> None:
    headers = {"Authtoken": token, **EMPTY_XML_POST}
    response = client.post(API + "Logout", headers=headers)
    assert response.status_code == 200
    assert response.text == "User logged out"
    assert client.get(API + "Job/4", headers={"Authtoken": token}).status_code == 401
    assert (
        client.post(API + "Logout", headers=headers).text == "Invalid authorization token provided."
    )


def test_token_scheme_in_any_casing(client: TestClient, token: str) -> None:
    secret = token.split(" ")[1]
    response = client.get(API + "Job/4", headers={"Authtoken": f"qsdk {secret}", **JSON_HEADERS})
    assert response.status_code == 200
