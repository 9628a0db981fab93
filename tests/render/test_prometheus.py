"""The exposition renderer: what prometheus_client's parser reads back, hostile names
included."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from cvjobs.render.prometheus import Family, render


def test_what_it_renders_parses_back_with_every_label_and_value() -> None:
    hostile = 'a"b\\c\nd} x="y'
    gauge = Family("cvjobs_x", "gauge", "a help\nwith a line", ("client", "status"))
    gauge.add(3, hostile, "Completed")
    gauge.add(0.5, "plain", "Failed")
    counter = Family("cvjobs_y", "counter", "finished", ("client",))
    counter.add(7, hostile)
    single = Family("cvjobs_up", "gauge", "up")
    single.add(1)
    text = render([gauge, counter, single]).decode()
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    assert [(s.labels, s.value) for s in parsed["cvjobs_x"].samples] == [
        ({"client": hostile, "status": "Completed"}, 3),
        ({"client": "plain", "status": "Failed"}, 0.5),
    ]
    assert parsed["cvjobs_x"].documentation == "a help\nwith a line"
    assert parsed["cvjobs_y"].type == "counter"
    assert [(s.name, s.value) for s in parsed["cvjobs_y"].samples] == [("cvjobs_y_total", 7)]
    assert [s.value for s in parsed["cvjobs_up"].samples] == [1]
