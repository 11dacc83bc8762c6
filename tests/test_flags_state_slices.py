"""TwistedLDClient.all_flags_state over a large store: evaluated in parts over several reactor
turns (ldfast.twisted._flags_state_in_slices), with the same answer as the one-call evaluation."""
import asyncio

import pytest
from twisted.internet.task import Clock

import ldfast.datasource._payload as payload
import ldfast.twisted as tw
from ldfast import Config
from ldfast.client import ClientBase
from ldfast.integrations.test_data import TestData
from ldfast.twisted import TwistedLDClient

USER = {"key": "user-7", "email": "u7@example.com", "plan": "gold", "groups": ["beta"]}
COUNT = 3 * tw.FLAGS_PER_PART + 50  # four parts


class _EveryPart:
    """A slice budget that ends each slice after one part (``ends`` counts the slices ended)."""

    ends = 0

    def __call__(self) -> bool:
        _EveryPart.ends += 1
        return True


def _data(count=COUNT):
    td = TestData.data_source()
    for i in range(count):
        shape = i % 4
        flag = td.flag("flag-%03d" % i)
        if shape == 0:
            flag = flag.variation_for_all(i % 8 == 0)
        elif shape == 1:
            flag = flag.variations("red", "green", "blue").if_match("plan", "gold").then_return(2).fallthrough_variation(0)
        elif shape == 2:
            flag = flag.if_match("groups", "alpha").then_return(True).fallthrough_variation(False)
        else:
            flag = flag.on(False)
        td.update(flag)
    return td


def _every_part(monkeypatch):
    """Each slice (the one in the call, and each Cooperator turn) ends after one part."""
    monkeypatch.setattr(tw, "_Budget", _EveryPart)
    monkeypatch.setattr(payload, "_Budget", _EveryPart)
    _EveryPart.ends = 0
    slices: list = []  # for each part evaluated, the number of slices ended before it
    steps = tw._fill_steps

    def spy(fill, snapshot):
        def counted(part):
            slices.append(_EveryPart.ends)
            fill(part)
        return steps(counted, snapshot)

    monkeypatch.setattr(tw, "_fill_steps", spy)
    return slices


def _client(td, clock):
    return TwistedLDClient("k", Config(update_processor_class=td, send_events=False), reactor=clock)


def _result(d):
    box = []
    d.addBoth(box.append)
    return box


def _run(clock, box, limit=100):
    turns = 0
    while not box and turns < limit:
        clock.advance(0)
        turns += 1
    assert box, "all_flags_state did not finish"
    if hasattr(box[0], "raiseException"):
        box[0].raiseException()
    return box[0], turns


OPTIONS = [{}, {"with_reasons": True}, {"client_side_only": True},
           {"with_reasons": True, "details_only_for_tracked_flags": True}]


@pytest.mark.parametrize("options", OPTIONS)
def test_sliced_state_is_the_one_call_state(monkeypatch, options):
    slices = _every_part(monkeypatch)
    clock = Clock()
    client = _client(_data(), clock)
    box = _result(client.all_flags_state(USER, **options))
    assert not box  # the first part only, at the call
    assert slices == [0]
    state, _ = _run(clock, box)
    assert slices == [0, 1, 2, 3]  # the three other parts, each in its own Cooperator turn
    expected = ClientBase.all_flags_state(client, USER, **options)
    assert state.valid and expected.valid
    assert state.to_json_dict() == expected.to_json_dict()
    assert list(state.to_values_map()) == list(expected.to_values_map())  # the store's order
    if not options:
        assert len(state.to_values_map()) == COUNT


def test_all_flags_is_sliced_too(monkeypatch):
    _every_part(monkeypatch)
    clock = Clock()
    client = _client(_data(), clock)
    box = _result(client.all_flags(USER))
    assert not box
    values, _ = _run(clock, box)
    assert values == ClientBase.all_flags_state(client, USER).to_values_map()


def test_a_store_that_fits_in_one_slice_is_answered_at_once():
    clock = Clock()
    client = _client(_data(), clock)  # a few hundred flags: well within a slice
    box = _result(client.all_flags_state(USER, with_reasons=True))
    assert box and box[0].to_json_dict() == ClientBase.all_flags_state(client, USER, with_reasons=True).to_json_dict()
    small = _client(_data(tw.FLAGS_PER_PART), clock)
    box = _result(small.all_flags_state(USER))  # one part: evaluated in the call
    assert box and box[0].to_json_dict() == ClientBase.all_flags_state(small, USER).to_json_dict()
    assert len(box[0].to_values_map()) == tw.FLAGS_PER_PART


@pytest.mark.parametrize("method", ["all_flags_state", "all_flags"])
def test_a_state_that_waited_for_the_parse_has_no_slice_in_the_parse_callback(monkeypatch, method):
    """The background parse fires its waiters inside its last slice: the state (or all_flags) that
    waited evaluates none of its parts there, all of them on the Cooperator's later turns."""
    from twisted.internet.defer import Deferred

    slices = _every_part(monkeypatch)
    clock = Clock()
    client = _client(_data(), clock)
    parse: Deferred = Deferred()
    waiting = [parse]
    client._data_source.flags_parsed = lambda: waiting.pop() if waiting else None
    box = _result(getattr(client, method)(USER))
    assert not box and slices == []
    parse.callback(None)  # (the parse's last slice)
    assert slices == [], "a part was evaluated inside the parse's callback"
    result, _ = _run(clock, box)
    assert len(slices) == 4 and len(set(slices)) == 4  # each part in its own Cooperator turn
    expected = ClientBase.all_flags_state(client, USER)
    assert result == (expected.to_values_map() if method == "all_flags" else result)
    if method == "all_flags_state":
        assert result.to_json_dict() == expected.to_json_dict()


def test_the_flags_are_those_of_the_call(monkeypatch):
    """Updates that arrive between slices: the state has the flags the store held at the call."""
    _every_part(monkeypatch)
    clock = Clock()
    td = _data()
    client = _client(td, clock)
    before = ClientBase.all_flags_state(client, USER).to_values_map()
    box = _result(client.all_flags_state(USER))
    last = "flag-%03d" % max(i for i in range(COUNT) if i % 8 == 0)  # True for all, in the last part
    assert before[last] is True
    td.update(td.flag(last).variation_for_all(False))
    td.update(td.flag("added-later").variation_for_all(True))
    state, _ = _run(clock, box)
    assert state.to_values_map() == before
    after = ClientBase.all_flags_state(client, USER).to_values_map()
    assert after[last] is False and after["added-later"] is True


def test_closing_finishes_a_sliced_state_at_once(monkeypatch):
    _every_part(monkeypatch)
    clock = Clock()
    client = _client(_data(), clock)
    expected = ClientBase.all_flags_state(client, USER, with_reasons=True).to_json_dict()
    box = _result(client.all_flags_state(USER, with_reasons=True))
    assert not box
    client.close()
    assert box, "close() did not finish the pending all_flags_state"
    assert box[0].to_json_dict() == expected
    later = _result(client.all_flags_state(USER, with_reasons=True))  # after close: at once
    assert later and later[0].to_json_dict() == expected


def test_invalid_context_and_offline_are_answered_at_once(monkeypatch, caplog):
    _every_part(monkeypatch)
    clock = Clock()
    client = _client(_data(), clock)
    box = _result(client.all_flags_state({"kind": "user", "name": "no key"}))
    assert box and not box[0].valid
    offline = TwistedLDClient("k", Config(offline=True, send_events=False), reactor=clock)
    box = _result(offline.all_flags_state(USER))
    assert box and not box[0].valid


def test_asyncio_client_awaits_a_sliced_state(monkeypatch):
    from ldfast.async_client import AsyncLDClient

    _every_part(monkeypatch)

    async def main():
        client = AsyncLDClient(Config("k", update_processor_class=_data(), send_events=False))
        await client.start(1)
        try:
            state = await client.all_flags_state(USER, with_reasons=True)
            expected = ClientBase.all_flags_state(client._client, USER, with_reasons=True)
            assert state.to_json_dict() == expected.to_json_dict()
            assert len(state.to_values_map()) == COUNT
        finally:
            await client.close()

    asyncio.run(main())


def test_asyncio_client_slices_on_the_loop_it_is_bound_to_after_a_fork(monkeypatch):
    """A forked child re-binds the client to its own loop: a sliced state runs on that loop's
    reactor, not on the Cooperator made for the parent's (which no longer runs)."""
    from ldfast.async_client import AsyncLDClient

    _every_part(monkeypatch)
    client = AsyncLDClient(Config("k", update_processor_class=_data(), send_events=False))

    async def parent():
        await client.start(1)
        state = await asyncio.wait_for(client.all_flags_state(USER), 5)
        assert len(state.to_values_map()) == COUNT

    async def child():
        try:
            state = await asyncio.wait_for(client.all_flags_state(USER, with_reasons=True), 5)
            expected = ClientBase.all_flags_state(client._client, USER, with_reasons=True)
            assert state.to_json_dict() == expected.to_json_dict()
        finally:
            await client.close()

    asyncio.run(parent())
    client._after_fork_in_child()  # what the fork hook does in a child process
    asyncio.run(child())
