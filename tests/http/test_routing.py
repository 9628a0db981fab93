"""Roots, path casing, methods, unknown routes and content negotiation (§1, §2, §11)."""

from __future__ import annotations

from xml.etree.ElementTree import fromstring

import pytest
from starlette.testclient import TestClient

# Routing, roots and negotiation come before the store:
# the same on both backends (tests/conftest.py).

ROOTS = ["/commandcenter/api/", "/webconsole/api/", "/SearchSvc/CVWebService.svc/"]


@pytest.mark.parametrize(
    "root", [*ROOTS, "/commandcenter/api", "/COMMANDCENTER/API/", "/searchsvc/cvwebservice.svc"]
)
def test_bare_root_answers_200(client: TestClient, root: str) -> None:
    assert client.get(root).status_code == 200


@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("path", ["Job/4", "job/4", "JOB/4", "jOb/4"])
def test_every_root_and_any_casing(client: TestClient, token: str, root: str, path: str) -> None:
    response = client.get(root + path, headers={"Authtoken": token, "Accept": "application/json"})
    assert response.status_code == 200
    assert response.json()["jobs"][0]["jobSummary"]["jobId"] == 4


@pytest.mark.parametrize(
    "path",
    [
        "Job/4/advanceddetails?infoType=1",
        "JOB/4/ADVANCEDDETAILS?INFOTYPE=1",
        "Job/4/AdvancedDetails?infotype=1",
    ],
)
def test_advanced_details_casing(client: TestClient, auth_json: dict[str, str], path: str) -> None:
    response = client.get("/webconsole/api/" + path, headers=auth_json)
    assert "jobRetention" in response.json()


def test_double_slash_after_root(client: TestClient, auth_json: dict[str, str]) -> None:
    # cvpysdk builds //Login when given a web_service_url with a trailing slash.
    assert client.get("/webconsole/api//Job/4", headers=auth_json).status_code == 200


@pytest.mark.parametrize(
    "path", ["/commandcenter/api/NoSuchThing", "/nowhere", "/", "/commandcenter/api/Job/4/Nope"]
)
def test_unknown_route_is_404_in_the_clients_format(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json()["errorCode"] == 404
    response = client.get(path, headers={"Accept": "application/xml"})
    assert response.status_code == 404
    assert fromstring(response.content).tag == "CVGui_GenericResp"


def test_wrong_method_is_405(client: TestClient, auth_json: dict[str, str]) -> None:
    response = client.post("/commandcenter/api/Job/4", headers=auth_json)
    assert response.status_code == 405
    assert "GET" in response.json()["errorMessage"]
    assert client.get("/commandcenter/api/Login", headers=auth_json).status_code == 405


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, "application/xml"),
        ("", "application/xml"),
        ("*/*", "application/xml"),
        ("application/json", "application/json"),
        ("APPLICATION/JSON", "application/json"),
        ("text/xml", "application/xml"),
        ("application/xml", "application/xml"),
        ("*/*, application/json", "application/json"),
        ("application/json;q=0.5, application/xml", "application/xml"),
        ("application/xml;q=0.1, application/json;q=0.9", "application/json"),
        ("text/html, application/json", "application/json"),
        ("application/json; charset=utf-8", "application/json"),
    ],
)
def test_accept_picks_the_format(
    client: TestClient, token: str, accept: str | None, media: str
) -> None:
    headers = {"Authtoken": token}
    if accept is not None:
        headers["Accept"] = accept
    response = client.get("/commandcenter/api/Job/4", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)


@pytest.mark.parametrize("accept", ["image/png", "text/html", "application/json;q=0"])
def test_unacceptable_accept_is_406(client: TestClient, token: str, accept: str) -> None:
    response = client.get(
        "/commandcenter/api/Job/4", headers={"Authtoken": token, "Accept": accept}
    )
    assert response.status_code == 406
    assert response.json()["errorCode"] == 406


def test_oversized_body_is_413(client: TestClient, token: str) -> None:
    response = client.post(
        "/commandcenter/api/JobDetails",
        content=b"{" + b" " * (70 * 1024) + b"}",
        headers={
            "Authtoken": token,
            "Accept": "application/json",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 413
    assert response.json()["errorCode"] == 413


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<a>" * 5000 + b"</a>" * 5000, "application/xml"),
        (b"[" * 900 + b"]" * 900, "application/json"),
        (b'{"a":' * 200 + b"1" + b"}" * 200, "application/json"),
    ],
)
def test_deeply_nested_bodies_are_400_not_500(
    client: TestClient, body: bytes, content_type: str
) -> None:
    response = client.post(
        "/commandcenter/api/Login",
        content=body,
        headers={"Content-Type": content_type, "Accept": "application/json"},
    )
    assert response.status_code == 400
    assert "errorMessage" in response.json()


def test_query_strings_read_once_are_kept_within_bounds() -> None:
    from starlette.requests import Request

    from cvjobs.http import dispatch

    def request(raw: bytes) -> Request:
        return Request({"type": "http", "query_string": raw, "headers": []})

    dispatch._QUERIES.clear()
    assert dispatch.query_items(request(b"infoType=16&a=1&a=2")) == (
        ("infoType", "16"),
        ("a", "1"),
        ("a", "2"),
    )
    assert dispatch.query_items(request(b"infoType=16&a=1&a=2")) is dispatch.query_items(
        request(b"infoType=16&a=1&a=2")
    )
    long = b"x=" + b"y" * dispatch._QUERY_KEPT_BYTES
    assert dispatch.query_items(request(long)) == (("x", "y" * dispatch._QUERY_KEPT_BYTES),)
    assert long not in dispatch._QUERIES
    for n in range(dispatch._QUERIES_KEPT + 10):
        dispatch.query_items(request(b"n=%d" % n))
    assert len(dispatch._QUERIES) <= dispatch._QUERIES_KEPT
