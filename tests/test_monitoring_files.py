"""docs/prometheus/alerts.yml and docs/grafana/cvjobs.json: valid (promtool, where Debian's
prometheus package is installed: scripts/test installs it), and naming only metrics and
statuses a live /metrics serves."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from cvjobs import vocab
from tests.catalogues import Catalogue

DOCS = Path(__file__).parent.parent / "docs"
ALERTS = DOCS / "prometheus" / "alerts.yml"
DASHBOARD = DOCS / "grafana" / "cvjobs.json"
METRIC = re.compile(r"\b(cvjobs_[a-z_]+)\b")
STATUSES = re.compile(r'status=~"([^"]+)"')


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p["targets"]]


def test_promtool_finds_the_alerting_rules_valid() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing; scripts/test installs Debian's prometheus")
        pytest.skip("no promtool here (Debian's prometheus package has it)")
    checked = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout


def test_every_rule_says_what_and_how_bad() -> None:
    for rule in rules():
        assert rule["alert"].startswith("Cvjobs") and rule["expr"].strip()
        assert rule["labels"]["severity"] in ("info", "warning", "critical")
        assert rule["annotations"]["summary"]


def test_the_dashboard_is_importable_grafana_json() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for p in dashboard["panels"]:
        assert p["datasource"]["uid"] == "${DS_PROMETHEUS}" and p["targets"], p["title"]
        assert all(t["expr"].strip() and t["refId"] for t in p["targets"]), p["title"]


def test_they_name_only_what_metrics_serves(
    client: TestClient, token: str, catalogue: Catalogue
) -> None:
    catalogue.sql(  # a webhook, for its metrics
        "INSERT INTO webhooks (url, events, secret, cursor_seq, created_at)"
        " VALUES ('http://127.0.0.1:9/', 'job.failed', 'whsec_AAAA', 0, 0)"
    )
    response = client.get("/metrics", headers={"Authtoken": token})
    served = {
        sample.name
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    exprs = [rule["expr"] for rule in rules()] + dashboard_exprs()
    named = {name for expr in exprs for name in METRIC.findall(expr)}
    assert named and named <= served, named - served
    statuses = {s for expr in exprs for found in STATUSES.findall(expr) for s in found.split("|")}
    assert statuses and statuses <= set(vocab.STATUSES), statuses - set(vocab.STATUSES)
