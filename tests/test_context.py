"""Contexts: validation, keys, JSON forms and old-style user conversion."""
import pytest

from ldfast import Context
from ldfast.context import to_context


@pytest.mark.parametrize("kind,error", [
    ("", "context kind must not be empty"),
    ("kind", '"kind" is not a valid context kind'),
    ("multi", 'context of kind "multi" must be created with create_multi or multi_builder'),
    ("a b", "context kind contains disallowed characters"),
    ("é", "context kind contains disallowed characters"),
])
def test_invalid_kinds(kind, error):
    c = Context.builder("k").kind(kind).build()
    assert not c.valid and c.error == error


def test_empty_key_is_invalid():
    assert Context.create("").error == "context key must not be None or empty"


def test_fully_qualified_keys():
    assert Context.create("a:b%c").fully_qualified_key == "a:b%c"
    assert Context.create("a:b%c", "org").fully_qualified_key == "org:a%253Ab%25c".replace("%253A", "%3A")
    m = Context.create_multi(Context.create("u1"), Context.create("o:1", "org"))
    assert m.fully_qualified_key == "org:o%3A1:user:u1"
    assert [c.kind for c in (m.get_individual_context(0), m.get_individual_context(1))] == ["org", "user"]


def test_multi_rules():
    single = Context.create("a")
    assert Context.create_multi(single) is single
    assert Context.create_multi().error == "multi-context must contain at least one kind"
    dup = Context.create_multi(Context.create("a"), Context.create("b"))
    assert dup.error == "multi-kind context cannot have same kind more than once"
    bad = Context.create_multi(Context.create(""), Context.create("x", "kind"))
    assert bad.error == 'context key must not be None or empty, "kind" is not a valid context kind'


def test_from_dict_round_trip_and_errors():
    d = {"kind": "org", "key": "k", "name": "n", "anonymous": True, "plan": "pro",
         "_meta": {"privateAttributes": ["plan"]}}
    c = Context.from_dict(d)
    assert c.valid and c.to_dict() == d and c.get("plan") == "pro" and list(c.private_attributes) == ["plan"]
    multi = {"kind": "multi", "user": {"key": "u"}, "org": {"key": "o", "x": [1]}}
    assert Context.from_dict(multi).to_dict() == multi
    assert Context.from_dict({"key": "x"}).error == 'invalid data type for "kind"'
    assert Context.from_dict({"kind": "user", "key": 3}).error == 'invalid data type for "key"'
    assert Context.from_dict({"kind": "user", "key": "a", "anonymous": None}).error == 'invalid data type for "anonymous"'
    assert Context.from_dict({"kind": "multi", "user": "x"}).error == 'invalid data type for "user"'
    assert Context.from_dict(None).error == "Cannot use None as a context"


def test_builder_attribute_rules():
    b = Context.builder("k").set("a", 1).set("kind", 5).set("_meta", {}).set("", 1)
    c = b.set("b", None).set("a", None).set("c", {"d": [1]}).build()
    assert c.kind == "user" and list(c.custom_attributes) == ["c"] and c.get("c") == {"d": [1]}
    assert c.get("key") == "k" and c.get("anonymous") is False and c.get("missing") is None
    # builders are copy-on-write: building again does not change the first context
    c2 = b.set("e", 2).build()
    assert c.get("e") is None and c2.get("e") == 2


def test_old_user_conversion():
    user = {"key": "aa0ceb", "firstName": "Ernestina", "lastName": "Evans", "email": "e@x.com",
            "name": "E", "anonymous": True, "ip": "1.2.3.4", "country": "US", "avatar": "http://a",
            "secondary": "s", "custom": {"groups": ["Google", "Microsoft"]},
            "privateAttributeNames": ["email"]}
    c = to_context(user)
    assert c.valid and c.kind == "user" and c.key == "aa0ceb" and c.name == "E" and c.anonymous
    assert c.get("groups") == ["Google", "Microsoft"] and c.get("firstName") == "Ernestina"
    assert c.get("secondary") == "s" and list(c.private_attributes) == ["email"]
    assert to_context({"key": ""}).valid  # empty keys were legal for users
    assert to_context({"name": "x"}).error == "context key must not be None or empty"
    assert to_context({"key": 5}).error == 'invalid data type for "key"'
    assert to_context({"key": "k", "custom": []}).error == 'invalid data type for "custom"'
    assert to_context({"key": "k", "email": 3}).error == 'invalid data type for "email"'
    assert to_context({"key": "k", "anonymous": None}).valid
    assert not to_context(["k"]).valid and not to_context(None).valid


def test_equality():
    assert Context.from_dict({"kind": "user", "key": "a", "x": 1}) == Context.builder("a").set("x", 1).build()
    assert Context.create("a") != Context.create("a", "org")
