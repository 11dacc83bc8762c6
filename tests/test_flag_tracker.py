"""Flag change listeners: the changed flag and every flag depending on it; value-change listeners."""
from ldfast import Config, Context, LDClient
from ldfast.integrations.test_data import TestData


def test_flag_changes_reach_dependents_and_value_listeners():
    td = TestData.data_source()
    td.update(td.flag("base").variation_for_all(True))
    td.use_preconfigured_flag({"key": "child", "version": 1, "on": True, "variations": ["off", "on"],
                               "offVariation": 0, "fallthrough": {"variation": 1},
                               "prerequisites": [{"key": "base", "variation": 0}]})
    td.use_preconfigured_segment({"key": "seg", "version": 1, "included": ["u"]})
    td.use_preconfigured_flag({"key": "by-seg", "version": 1, "on": True, "variations": [False, True],
                               "fallthrough": {"variation": 0}, "rules": [{"id": "r", "variation": 1, "clauses": [
                                   {"attribute": "", "op": "segmentMatch", "values": ["seg"]}]}]})
    td.update(td.flag("other").value_for_all(1))
    client = LDClient(Config("k", update_processor_class=td, send_events=False))
    changes, values = [], []
    client.flag_tracker.add_listener(lambda c: changes.append(c.key))
    listener = client.flag_tracker.add_flag_value_change_listener("child", Context.create("u"), values.append)

    td.update(td.flag("base").variation_for_all(False))  # base changes: child follows (prerequisite fails)
    assert sorted(changes) == ["base", "child"]
    assert [(v.key, v.old_value, v.new_value) for v in values] == [("child", "on", "off")]

    changes.clear()
    td.use_preconfigured_segment({"key": "seg", "version": 2, "included": []})
    assert changes == ["by-seg"]
    assert len(values) == 1  # child's value did not change

    client.flag_tracker.remove_flag_value_change_listener(listener)
    td.update(td.flag("base").variation_for_all(True))
    assert len(values) == 1
    client.close()


def test_a_failing_listener_does_not_stop_updates():
    td = TestData.data_source()
    td.update(td.flag("f").value_for_all(1))
    client = LDClient(Config("k", update_processor_class=td, send_events=False))
    seen = []

    def bad(change):
        raise RuntimeError("boom")

    client.flag_tracker.add_listener(bad)
    client.flag_tracker.add_listener(lambda c: seen.append(c.key))
    td.update(td.flag("f").value_for_all(2))
    assert seen == ["f"] and client.variation("f", {"key": "u"}, 0) == 2
    client.close()
