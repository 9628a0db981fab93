"""/openapi.json describes every route, and a live server keeps to it: schemathesis sends
generated requests to each operation (a bounded number of examples) and checks that no
answer is a 5xx and every answer matches the document."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from cvjobs.http.openapi import NATIVE, VENDOR, document
from cvjobs.http.routes import ROUTES
from tests.e2e.conftest import Server, running_server

OPERATIONS = {(r.method, r.pattern): r.doc for r in ROUTES}


def test_the_document_names_exactly_the_routes() -> None:
    paths = document(ROUTES)["paths"]
    named = {
        (method.upper(), path.removeprefix(NATIVE).removeprefix(VENDOR))
        for path, operations in paths.items()
        for method in operations
    }
    assert named == set(OPERATIONS) and len(OPERATIONS) == len(ROUTES)
    # Each route has a description of its own, not another's.
    assert len({id(r.doc) for r in ROUTES}) == len(ROUTES)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """A server of its own (schemathesis kills, resubmits and ingests), and an access
    token: Logout and RenewLoginToken, fuzzed too, end login sessions but not tokens."""
    workdir: Path = tmp_path_factory.mktemp("openapi")
    # No webhook the fuzzing adds may be sent anywhere: none.invalid is never a host.
    with running_server(workdir, "--no-engine", "--webhook-hosts", "none.invalid") as srv:
        command = ["token", "create", "--user", "admin", "--expires", "1d", "--db", str(srv.db)]
        made = subprocess.run(
            [sys.executable, "-m", "cvjobs", *command],
            check=True,
            capture_output=True,
            text=True,
        )
        token = next(line for line in made.stdout.splitlines() if line.startswith("cvat_"))
        yield srv, token


@pytest.fixture(scope="module")
def api_schema(fuzzed: tuple[Server, str]) -> schemathesis.BaseSchema:
    srv, _ = fuzzed
    return schemathesis.openapi.from_url(srv.url + "/openapi.json")


# No 5xx, and every answer's status, content type, headers and (JSON) body as documented.
# Not positive_data_acceptance: job rules refuse some schema-valid requests, with a
# documented error. Authentication is tested on its own (test_auth, test_tokens).
MATCHES_THE_DOCUMENT = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
FUZZ = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
@pytest.mark.parametrize(
    ("method", "pattern"), sorted(OPERATIONS), ids=[f"{m} {p}" for m, p in sorted(OPERATIONS)]
)
def test_every_operation_keeps_to_the_document(
    api_schema: schemathesis.BaseSchema,
    fuzzed: tuple[Server, str],
    method: str,
    pattern: str,
    accept: str,
) -> None:
    native = any(r.native for r in ROUTES if (r.method, r.pattern) == (method, pattern))
    operation = api_schema[(NATIVE if native else VENDOR) + pattern][method]
    headers = {"Authorization": f"Bearer {fuzzed[1]}", "Accept": accept}

    @given(case=operation.as_strategy())
    @FUZZ
    def check(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(headers=headers, checks=MATCHES_THE_DOCUMENT)

    check()
