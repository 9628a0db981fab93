"""The XML writer: attributes, children, lists, escaping."""

from __future__ import annotations

from xml.etree.ElementTree import fromstring

from cvjobs.render.xml import document, element


def test_scalars_children_and_lists() -> None:
    text = element(
        "r",
        {
            "a": 1,
            "b": True,
            "c": "x",
            "d": {"e": 2},
            "f": [{"g": 1}, {"g": 2}],
            "h": None,
            "i": ["5", "6"],
        },
    )
    assert text == '<r a="1" b="true" c="x"><d e="2"/><f g="1"/><f g="2"/><i>5</i><i>6</i></r>'


def test_empty_element_is_self_closing() -> None:
    assert element("r", {"jobs": []}) == "<r/>"


def test_escaping_round_trips_through_a_parser() -> None:
    nasty = "a&b<c>d\"e'f\tg\nh\ri ünï €"
    root = fromstring(document("r", {"v": nasty, "k": {"w": nasty}}))
    assert root.attrib["v"] == nasty
    k = root.find("k")
    assert k is not None and k.attrib["w"] == nasty


def test_characters_xml_cannot_carry_become_replacement() -> None:
    root = fromstring(document("r", {"v": "a\x01b\x1fc"}))
    assert root.attrib["v"] == "a\ufffdb\ufffdc"


def test_document_has_the_vendor_declaration() -> None:
    assert document("r", {}).startswith(
        b'<?xml version="1.0" encoding="UTF-8" standalone="no" ?><r/>'
    )
