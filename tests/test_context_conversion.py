"""Converting dicts to contexts (what every call with a user dict does), on both twins.

The conversion is written attribute by attribute for speed; these tests hold it to the rules it
replaces: the official SDK's ``Context.from_dict`` for context dicts, and ``ContextBuilder`` applied
as LaunchDarkly 8.x converted old-style user dicts. ``DictContexts`` (the client's one-entry reuse of
the last dict's context) must never hand back a context that a fresh conversion would not make.
"""
import importlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ldclient.context import Context as OfficialContext

scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False),
                    st.sampled_from(["", "a", "user", "org", "x:y", "multi", "kind", "a%b"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.sampled_from(["a", "b", "privateAttributes"]),
                                                                       inner, max_size=3)), max_leaves=6)
NAMES = ["key", "kind", "name", "anonymous", "_meta", "", "custom", "privateAttributeNames", "email",
         "firstName", "ip", "plan", "groups", "secondary"]
dicts = st.dictionaries(st.sampled_from(NAMES), values, max_size=7)


def load(impl):
    return importlib.import_module("ldfast._ext.context_%s" % impl)


def fields(c):
    return (c._kind, c._key, c._name, c._anonymous, c._attributes, c._private, c._full_key, c._error,
            None if c._multi is None else [fields(m) for m in c._multi])


def old_user_reference(mod, user):
    """LaunchDarkly 8.x's conversion of a user dict without ``kind``, through ContextBuilder."""
    if user is None:
        return mod._error_context("Cannot use None as a context")
    b = mod.ContextBuilder("")
    b._allow_empty_key(True)
    has_key = False
    for k, v in user.items():
        if k == "key":
            if not isinstance(v, str):
                return mod._type_error(k)
            b.key(v)
            has_key = True
        elif k == "name":
            if v is None:
                continue
            if not isinstance(v, str):
                return mod._type_error(k)
            b.name(v)
        elif k in ("firstName", "lastName", "email", "country", "avatar", "ip"):
            if v is None:
                continue
            if not isinstance(v, str):
                return mod._type_error(k)
            b.set(k, v)
        elif k == "anonymous":
            if v is None:
                continue
            if not isinstance(v, bool):
                return mod._type_error(k)
            b.anonymous(v)
        elif k == "custom":
            if v is None:
                continue
            if not isinstance(v, dict):
                return mod._type_error(k)
            for ck, cv in v.items():
                b.set(ck, cv)
        elif k == "privateAttributeNames":
            if v is None:
                continue
            if not isinstance(v, list):
                return mod._type_error(k)
            for pa in v:
                if not isinstance(pa, str):
                    return mod._type_error(k)
                b.private(pa)
        elif k != "_meta" and k != "":
            b.set(k, v)
    if not has_key:
        b._allow_empty_key(False)
    return b.build()


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(props=dicts, kind=st.sampled_from(["user", "org", "", "kind", "a b", None]))
def test_context_dicts_convert_as_the_official_sdk(impl, props, kind):
    mod = load(impl)
    if kind is not None:
        props = dict(props, kind=kind)
    ours = mod.to_context(props) if "kind" in props else mod.Context.from_dict(props)
    theirs = OfficialContext.from_dict(props)
    assert ours.valid == theirs.valid, (props, ours.error, theirs.error)
    if theirs.valid:
        assert ours.to_dict() == theirs.to_dict()
        assert ours.fully_qualified_key == theirs.fully_qualified_key
    else:
        assert ours.error == theirs.error


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(user=dicts, custom=st.one_of(st.none(), st.dictionaries(st.sampled_from(NAMES), values, max_size=4)))
def test_old_user_dicts_convert_as_the_builder_did(impl, user, custom):
    mod = load(impl)
    user.pop("kind", None)
    if custom is not None:
        user["custom"] = custom
    assert fields(mod.to_context(user)) == fields(old_user_reference(mod, user))


def test_a_custom_attribute_named_like_a_builtin_applies_as_the_builtin(impl):
    mod = load(impl)
    c = mod.to_context({"key": "k", "custom": {"kind": "org", "name": "N", "anonymous": True, "key": "k2"}})
    assert (c.kind, c.key, c.name, c.anonymous, c.fully_qualified_key) == ("org", "k2", "N", True, "org:k2")
    c = mod.to_context({"key": "k", "custom": {"name": 5, "anonymous": "yes"}})  # wrong types: ignored
    assert c.valid and c.name is None and c.anonymous is False
    c = mod.to_context({"key": "k", "": True, "_meta": 5, "custom": {"": 1, "_meta": 2}})  # names the builder refuses
    assert c.valid and c.anonymous is False and not c.custom_attributes


def test_dict_contexts_reuse_the_last_context_while_the_dict_is_unchanged(impl):
    mod = load(impl)
    cache = mod.DictContexts()
    user = {"kind": "user", "key": "u1", "plan": "gold", "groups": ["a"]}
    first = cache.convert(user)
    assert cache.convert(user) is first
    user["groups"].append("b")  # held by reference, as a fresh conversion holds it
    assert cache.convert(user) is first and first.get("groups") == ["a", "b"]
    user["plan"] = "silver"
    second = cache.convert(user)
    assert second is not first and second.get("plan") == "silver" and first.get("plan") == "gold"
    user["tier"] = 1
    assert cache.convert(user).get("tier") == 1
    del user["tier"]
    assert cache.convert(user).get("tier") is None
    user["anonymous"] = 1  # equal to True but another object (and an invalid type)
    assert not cache.convert(user).valid
    same = dict(user, anonymous=False)
    assert cache.convert(same) is not cache.convert(dict(same))  # another dict converts again


@pytest.mark.parametrize("user, change", [
    ({"kind": "user", "key": "u", "_meta": {"privateAttributes": ["a"]}},
     lambda u: u["_meta"]["privateAttributes"].append("b")),
    ({"key": "u", "custom": {"plan": "gold"}}, lambda u: u["custom"].__setitem__("plan", "silver")),
    ({"key": "u", "privateAttributeNames": ["a"]}, lambda u: u["privateAttributeNames"].append("b")),
    ({"kind": "multi", "user": {"key": "u"}, "org": {"key": "o"}}, lambda u: u["org"].__setitem__("key", "o2")),
])
def test_dict_contexts_never_keep_a_context_read_from_nested_containers(impl, user, change):
    mod = load(impl)
    cache = mod.DictContexts()
    cache.convert(user)
    change(user)
    assert fields(cache.convert(user)) == fields(mod.to_context(user))


def test_dict_contexts_pass_contexts_and_bad_input_through(impl):
    mod = load(impl)
    cache = mod.DictContexts()
    ctx = mod.Context.create("k")
    assert cache.convert(ctx) is ctx
    assert cache.convert(None).error == "Cannot use None as a context"
    assert not cache.convert({"kind": "user"}).valid
    assert not cache.convert(["k"]).valid
