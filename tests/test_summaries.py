"""Wire records as domain objects: what a stored section may hold so that both formats
can show it (issue 9: keys XML reserves are refused)."""

from __future__ import annotations

from typing import Any

import pytest

from cvjobs.errors import InvalidRecord
from cvjobs.render import xml
from cvjobs.summaries import check_section


@pytest.mark.parametrize("key", ["xmlns", "XMLNS", "xmlLang", "xml", "Xml-thing"])
def test_keys_xml_reserves_are_refused(key: str) -> None:
    with pytest.raises(InvalidRecord, match="a name XML reserves"):
        check_section("bkpInfo", {"exchDbInfo": {key: "urn:evil"}}, "jobs[0]")


@pytest.mark.parametrize("key", ["xmlns:evil", "xml:lang", "a b", "1st", ""])
def test_keys_that_are_not_names_are_refused(key: str) -> None:
    with pytest.raises(InvalidRecord, match="not a name"):
        check_section("bkpInfo", {key: 1}, "jobs[0]")


@pytest.mark.parametrize("key", ["exmlns", "my_xml", "XmNs", "x", "_ml"])
def test_names_merely_like_reserved_ones_are_kept(key: str) -> None:
    body: dict[str, Any] = {"exchDbInfo": {key: "v"}}
    check_section("bkpInfo", body, "jobs[0]")
    assert f' {key}="v"' in xml.document("r", body).decode()
