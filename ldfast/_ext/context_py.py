"""Evaluation contexts: single and multi-kind, builders, JSON and legacy-user conversion.

The API mirrors ``ldclient.Context`` of launchdarkly-server-sdk 9.x. The storage is laid out for
the evaluator: plain slots, a kind-to-context dict for multi-contexts, the fully qualified key
computed once.
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

_INVALID_KIND = re.compile(r"[^-a-zA-Z0-9._]")
_OLD_USER_STRING_ATTRS = ("firstName", "lastName", "email", "country", "avatar", "ip")


def _escape_key(key: str) -> str:
    return key.replace("%", "%25").replace(":", "%3A")


def _kind_error(kind: str) -> Optional[str]:
    if kind == "":
        return "context kind must not be empty"
    if kind == "kind":
        return '"kind" is not a valid context kind'
    if kind == "multi":
        return 'context of kind "multi" must be created with create_multi or multi_builder'
    if _INVALID_KIND.search(kind):
        return "context kind contains disallowed characters"
    return None


class Context:
    """A LaunchDarkly context: one kind (``user`` by default) or several (a multi-context).

    Contexts are immutable. An invalid context has ``valid == False`` and ``error`` set; evaluating
    it gives the default value with reason ``USER_NOT_SPECIFIED``.
    """

    __slots__ = (
        "_kind", "_key", "_name", "_anonymous", "_attributes", "_private",
        "_multi", "_by_kind", "_full_key", "_error",
    )

    DEFAULT_KIND = "user"
    MULTI_KIND = "multi"

    def __init__(
        self,
        kind: Optional[str],
        key: str,
        name: Optional[str] = None,
        anonymous: bool = False,
        attributes: Optional[dict[str, Any]] = None,
        private_attributes: Optional[List[str]] = None,
        multi_contexts: Optional[List["Context"]] = None,
        allow_empty_key: bool = False,
        error: Optional[str] = None,
    ):
        self._multi: Optional[List[Context]] = None
        self._by_kind: Optional[Dict[str, Context]] = None
        if error is not None:
            self._invalid(error)
            return
        if multi_contexts is not None:
            self._init_multi(multi_contexts)
            return
        if kind is None:
            kind = "user"
        if kind != "user":
            kind_error = _kind_error(kind)
            if kind_error is not None:
                self._invalid(kind_error)
                return
        if key == "" and not allow_empty_key:
            self._invalid("context key must not be None or empty")
            return
        self._kind = kind
        self._key = key
        self._name = name
        self._anonymous = anonymous
        self._attributes = attributes
        self._private = private_attributes
        self._full_key = key if kind == "user" else "%s:%s" % (kind, _escape_key(key))
        self._error: Optional[str] = None

    def _init_multi(self, contexts: List["Context"]) -> None:
        if len(contexts) == 0:
            self._invalid("multi-context must contain at least one kind")
            return
        contexts = sorted(contexts, key=lambda c: c._kind)
        errors: List[str] = []
        last_kind = None
        parts = []
        for c in contexts:
            if c._error is not None:
                errors.append(c._error)
                continue
            if c._kind == last_kind:
                self._invalid("multi-kind context cannot have same kind more than once")
                return
            last_kind = c._kind
            parts.append(c._kind + ":" + _escape_key(c._key))
        if errors:
            self._invalid(", ".join(errors))
            return
        self._kind = "multi"
        self._key = ""
        self._name = None
        self._anonymous = False
        self._attributes = None
        self._private = None
        self._multi = contexts
        self._by_kind = {c._kind: c for c in contexts}
        self._full_key = ":".join(parts)
        self._error = None

    def _invalid(self, error: str) -> None:
        self._error = error
        self._kind = ""
        self._key = ""
        self._name = None
        self._anonymous = False
        self._attributes = None
        self._private = None
        self._multi = None
        self._by_kind = None
        self._full_key = ""

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def create(cls, key: str, kind: Optional[str] = None) -> "Context":
        """A single-kind context with only a key (and kind, ``user`` if omitted)."""
        return Context(kind, key)

    @classmethod
    def create_multi(cls, *contexts: "Context") -> "Context":
        """A multi-context from several contexts; one context gives that context itself."""
        builder = ContextMultiBuilder()
        for c in contexts:
            builder.add(c)
        return builder.build()

    @classmethod
    def from_dict(cls, props: dict[str, Any]) -> "Context":
        """A context from its JSON form (``kind`` is required, as in the 9.x SDK)."""
        return _from_dict(props)

    @classmethod
    def from_user_dict(cls, user: dict[str, Any]) -> "Context":
        """A context from an old-style user dict (no ``kind``), converted as LaunchDarkly 8.x did."""
        return _from_old_user(user)

    @classmethod
    def builder(cls, key: str) -> "ContextBuilder":
        return ContextBuilder(key)

    @classmethod
    def builder_from_context(cls, context: "Context") -> "ContextBuilder":
        return ContextBuilder(context._key, context)

    @classmethod
    def multi_builder(cls) -> "ContextMultiBuilder":
        return ContextMultiBuilder()

    # -- properties ---------------------------------------------------------------------------

    @property
    def valid(self) -> bool:
        return self._error is None

    @property
    def error(self) -> Optional[str]:
        return self._error

    @property
    def multiple(self) -> bool:
        return self._multi is not None

    @property
    def kind(self) -> str:
        return self._kind

    @property
    def key(self) -> str:
        return self._key

    @property
    def name(self) -> Optional[str]:
        return self._name

    @property
    def anonymous(self) -> bool:
        return self._anonymous

    @property
    def individual_context_count(self) -> int:
        if self._error is not None:
            return 0
        return 1 if self._multi is None else len(self._multi)

    @property
    def custom_attributes(self) -> Iterable[str]:
        return () if self._attributes is None else self._attributes

    @property
    def private_attributes(self) -> Iterable[str]:
        return () if self._private is None else self._private

    @property
    def fully_qualified_key(self) -> str:
        return self._full_key

    def get(self, attribute: str) -> Any:
        """A built-in (key, kind, name, anonymous) or custom attribute by name; None if absent."""
        if attribute == "key":
            return self._key
        if attribute == "kind":
            return self._kind
        if attribute == "name":
            return self._name
        if attribute == "anonymous":
            return self._anonymous
        attrs = self._attributes
        return None if attrs is None else attrs.get(attribute)

    def __getitem__(self, attribute: Any) -> Any:
        return self.get(attribute) if isinstance(attribute, str) else None

    def get_individual_context(self, kind: Union[int, str]) -> Optional["Context"]:
        if self._error is not None:
            return None
        if isinstance(kind, str):
            if self._multi is None:
                return self if kind == self._kind else None
            return self._by_kind.get(kind)  # type: ignore[union-attr]
        if self._multi is None:
            return self if kind == 0 else None
        if kind < 0 or kind >= len(self._multi):
            return None
        return self._multi[kind]

    def without_anonymous_contexts(self) -> "Context":
        contexts = self._multi if self._multi is not None else [self]
        return Context.create_multi(*[c for c in contexts if not c._anonymous])

    # -- serialization ------------------------------------------------------------------------

    def to_dict(self) -> Dict[str, Any]:
        if self._error is not None:
            return {}
        if self._multi is not None:
            ret: Dict[str, Any] = {"kind": "multi"}
            for c in self._multi:
                ret[c._kind] = c._single_dict(False)
            return ret
        return self._single_dict(True)

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    def _single_dict(self, with_kind: bool) -> Dict[str, Any]:
        ret: Dict[str, Any] = {"key": self._key}
        if with_kind:
            ret["kind"] = self._kind
        if self._name is not None:
            ret["name"] = self._name
        if self._anonymous:
            ret["anonymous"] = True
        if self._attributes is not None:
            ret.update(self._attributes)
        if self._private is not None:
            ret["_meta"] = {"privateAttributes": self._private}
        return ret

    def __repr__(self) -> str:
        if self._error is not None:
            return "[invalid context: %s]" % self._error
        return self.to_json_string()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Context):
            return False
        if (
            self._kind != other._kind
            or self._key != other._key
            or self._name != other._name
            or self._anonymous != other._anonymous
            or self._attributes != other._attributes
            or self._private != other._private
            or self._error != other._error
        ):
            return False
        return self._multi == other._multi

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]


def _error_context(error: str) -> Context:
    return Context("", "", error=error)


def _type_error(prop: str) -> Context:
    return _error_context('invalid data type for "%s"' % prop)


def _new_single(kind: str, key: str, name: Optional[str], anonymous: bool, attributes: Optional[dict[str, Any]],
                private: Optional[List[str]], allow_empty_key: bool) -> Context:
    """A single-kind context from checked parts, as ``Context(...)`` makes it, without the builder
    (the conversion of a dict per evaluation call is on the serving path)."""
    if kind != "user":
        kind_error = _kind_error(kind)
        if kind_error is not None:
            return _error_context(kind_error)
    if key == "" and not allow_empty_key:
        return _error_context("context key must not be None or empty")
    c = Context.__new__(Context)
    c._kind = kind
    c._key = key
    c._name = name
    c._anonymous = anonymous
    c._attributes = attributes
    c._private = private
    c._multi = None
    c._by_kind = None
    c._full_key = key if kind == "user" else "%s:%s" % (kind, _escape_key(key))
    c._error = None
    return c


# What each name means in a context's JSON form and in an old-style user: one hash lookup per
# attribute instead of a chain of string comparisons (the conversion runs on every call that passes
# a dict). 0: a custom attribute.
_KEY, _KIND, _NAME, _ANONYMOUS, _META, _EMPTY, _CUSTOM, _PRIVATE_NAMES, _OLD_STRING = range(1, 10)
_JSON_NAMES = {"key": _KEY, "kind": _KIND, "name": _NAME, "anonymous": _ANONYMOUS, "_meta": _META, "": _EMPTY}
_USER_NAMES = dict(_JSON_NAMES, custom=_CUSTOM, privateAttributeNames=_PRIVATE_NAMES,
                   **{name: _OLD_STRING for name in _OLD_USER_STRING_ATTRS})


def _from_dict(props: dict[str, Any]) -> Context:
    if props is None:
        return _error_context("Cannot use None as a context")
    kind = props.get("kind")
    if not isinstance(kind, str):
        return _type_error("kind")
    if kind == "multi":
        b = ContextMultiBuilder()
        for k, v in props.items():
            if k != "kind":
                if not isinstance(v, dict):
                    return _type_error(k)
                b.add(_single_from_dict(v, k))
        return b.build()
    return _single_from_dict(props, kind)


def _put(attributes: Optional[Dict[str, Any]], name: Any, value: Any) -> Dict[str, Any]:
    """``ContextBuilder.set`` of a custom attribute: None removes it."""
    if attributes is None:
        attributes = {}
    if value is None:
        attributes.pop(name, None)
    else:
        attributes[name] = value
    return attributes


def _single_from_dict(props: dict[str, Any], kind: Optional[str]) -> Context:
    """One kind's JSON form: what ``ContextBuilder.try_set`` allows, attribute by attribute."""
    if kind is None:
        kind = "user"
    key = ""
    name = None
    anonymous = False
    attributes: Optional[Dict[str, Any]] = None
    private: Optional[List[str]] = None
    names = _JSON_NAMES
    for k, v in props.items():
        code = names.get(k, 0)
        if code == 0:
            attributes = _put(attributes, k, v)
        elif code == _KEY:
            if not isinstance(v, str):
                return _type_error(k)
            key = v
        elif code == _KIND:
            if not isinstance(v, str):
                return _type_error(k)
            kind = v
        elif code == _NAME:
            if v is not None and not isinstance(v, str):
                return _type_error(k)
            name = v
        elif code == _ANONYMOUS:
            if not isinstance(v, bool):
                return _type_error(k)
            anonymous = v
        elif code == _META:
            if v is None:
                continue
            if not isinstance(v, dict):
                return _type_error(k)
            p = v.get("privateAttributes")
            if p is not None:
                if not isinstance(p, list):
                    return _type_error("privateAttributes")
                for pa in p:
                    if not isinstance(pa, str):
                        return _type_error("privateAttributes")
                    if private is None:
                        private = []
                    private.append(pa)
        else:  # ""
            return _type_error(k)
    return _new_single(kind, key, name, anonymous, attributes, private, False)


def _from_old_user(user: dict[str, Any]) -> Context:
    """The 8.x conversion of a user dict without ``kind`` (see PROTOCOL.md 2.5)."""
    if user is None:
        return _error_context("Cannot use None as a context")
    kind = "user"
    key = ""
    has_key = False
    name = None
    anonymous = False
    attributes: Optional[Dict[str, Any]] = None
    private: Optional[List[str]] = None
    names = _USER_NAMES
    for k, v in user.items():
        code = names.get(k, 0)
        if code == 0:
            attributes = _put(attributes, k, v)
        elif code == _KEY:
            if not isinstance(v, str):
                return _type_error(k)
            key = v
            has_key = True
        elif code == _META or code == _EMPTY or v is None:
            continue
        elif code == _OLD_STRING:
            if not isinstance(v, str):
                return _type_error(k)
            if attributes is None:
                attributes = {}
            attributes[k] = v
        elif code == _NAME:
            if not isinstance(v, str):
                return _type_error(k)
            name = v
        elif code == _ANONYMOUS:
            if not isinstance(v, bool):
                return _type_error(k)
            anonymous = v
        elif code == _CUSTOM:
            if not isinstance(v, dict):
                return _type_error(k)
            for ck, cv in v.items():
                ccode = names.get(ck, 0)
                if ccode == _META or ccode == _EMPTY:
                    continue  # the builder refuses these names
                if ccode == _KEY or ccode == _KIND or ccode == _NAME or ccode == _ANONYMOUS:
                    kind, key, name, anonymous = _apply_builtin(ck, cv, kind, key, name, anonymous)
                    continue
                attributes = _put(attributes, ck, cv)
        elif code == _PRIVATE_NAMES:
            if not isinstance(v, list):
                return _type_error(k)
            for pa in v:
                if not isinstance(pa, str):
                    return _type_error(k)
                if private is None:
                    private = []
                private.append(pa)
        else:  # kind, an extra key that the builder applies as the built-in
            kind, key, name, anonymous = _apply_builtin(k, v, kind, key, name, anonymous)
    return _new_single(kind, key, name, anonymous, attributes, private, has_key)


def _apply_builtin(name: str, value: Any, kind: str, key: str, user_name: Optional[str],
                   anonymous: bool) -> Tuple[str, str, Optional[str], bool]:
    """A user's custom attribute (or extra key) with a built-in's name, applied as
    ``ContextBuilder.set`` applies it (a custom ``kind`` changes the kind, as in LaunchDarkly 8.x;
    a value of the wrong type is ignored)."""
    if name == "key":
        if isinstance(value, str):
            key = value
    elif name == "kind":
        if isinstance(value, str):
            kind = value
    elif name == "name":
        if value is None or isinstance(value, str):
            user_name = value
    elif isinstance(value, bool):  # anonymous
        anonymous = value
    return kind, key, user_name, anonymous


class ContextBuilder:
    """Builds a single-kind context: ``Context.builder(key).kind("org").set("plan", "pro").build()``."""

    __slots__ = ("_key", "_kind", "_name", "_anonymous", "_attributes", "_private",
                 "_cow_attrs", "_cow_private", "_allow_empty")

    def __init__(self, key: str, copy_from: Optional[Context] = None):
        self._key = key
        if copy_from is None:
            self._kind: Optional[str] = "user"
            self._name: Optional[str] = None
            self._anonymous = False
            self._attributes: Optional[Dict[str, Any]] = None
            self._private: Optional[List[str]] = None
        else:
            self._kind = copy_from._kind
            self._name = copy_from._name
            self._anonymous = copy_from._anonymous
            self._attributes = copy_from._attributes
            self._private = copy_from._private
        self._cow_attrs = self._attributes is not None
        self._cow_private = self._private is not None
        self._allow_empty = False

    def build(self) -> Context:
        self._cow_attrs = self._attributes is not None
        self._cow_private = self._private is not None
        return Context(self._kind, self._key, self._name, self._anonymous, self._attributes,
                       self._private, None, self._allow_empty)

    def key(self, key: str) -> "ContextBuilder":
        self._key = key
        return self

    def kind(self, kind: str) -> "ContextBuilder":
        self._kind = kind
        return self

    def name(self, name: Optional[str]) -> "ContextBuilder":
        self._name = name
        return self

    def anonymous(self, anonymous: bool) -> "ContextBuilder":
        self._anonymous = anonymous
        return self

    def set(self, attribute: str, value: Any) -> "ContextBuilder":
        self.try_set(attribute, value)
        return self

    def try_set(self, attribute: str, value: Any) -> bool:
        """Set an attribute; False (and nothing set) when the name or value type is not allowed."""
        if attribute == "" or attribute == "_meta":
            return False
        if attribute == "key":
            if isinstance(value, str):
                self._key = value
                return True
            return False
        if attribute == "kind":
            if isinstance(value, str):
                self._kind = value
                return True
            return False
        if attribute == "name":
            if value is None or isinstance(value, str):
                self._name = value
                return True
            return False
        if attribute == "anonymous":
            if isinstance(value, bool):
                self._anonymous = value
                return True
            return False
        if self._cow_attrs:
            self._cow_attrs = False
            self._attributes = self._attributes and self._attributes.copy()
        if self._attributes is None:
            self._attributes = {}
        if value is None:
            self._attributes.pop(attribute, None)
        else:
            self._attributes[attribute] = value
        return True

    def private(self, *attributes: str) -> "ContextBuilder":
        if attributes:
            if self._cow_private:
                self._cow_private = False
                self._private = self._private and self._private.copy()
            if self._private is None:
                self._private = []
            self._private.extend(attributes)
        return self

    def _allow_empty_key(self, allow: bool) -> None:
        self._allow_empty = allow


class ContextMultiBuilder:
    """Builds a multi-context from several single-kind contexts."""

    __slots__ = ("_contexts", "_cow")

    def __init__(self) -> None:
        self._contexts: List[Context] = []
        self._cow = False

    def build(self) -> Context:
        if len(self._contexts) == 1:
            return self._contexts[0]
        self._cow = True
        return Context(None, "", multi_contexts=self._contexts)

    def add(self, context: Context) -> "ContextMultiBuilder":
        if context._multi is not None:
            for c in context._multi:
                self.add(c)
        else:
            if self._cow:
                self._cow = False
                self._contexts = self._contexts.copy()
            self._contexts.append(context)
        return self


_ABSENT = object()


class DictContexts:
    """``to_context`` for a client that is given the same user dict for several calls in a row (a
    request's flags evaluated for one user): the context last made from a dict is reused while that
    same dict object still holds the same keys and value objects in the same order (compared by
    identity, so a value replaced by an equal one still converts again). A dict whose conversion
    reads a nested container (``_meta``, a multi-context, an old-style user's ``custom`` or
    ``privateAttributeNames``) is not kept: a change inside it would not be seen. One entry,
    replaced as a whole (safe to share between threads)."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        # (dict, its keys, its values, context): only dicts are kept
        self._last: Tuple[Any, Tuple[Any, ...], Tuple[Any, ...], Optional[Context]] = (_ABSENT, (), (), None)

    def convert(self, value: Any) -> Context:
        if type(value) is Context:
            return value
        last = self._last
        if value is last[0] and _unchanged(value, last[1], last[2]):
            return last[3]  # type: ignore[return-value]
        context = to_context(value)
        if type(value) is dict and context._error is None and context._multi is None:
            if value.get("_meta") is None and ("kind" in value or (
                    value.get("custom") is None and value.get("privateAttributeNames") is None)):
                self._last = (value, tuple(value), tuple(value.values()), context)
        return context


def _unchanged(value: Dict[Any, Any], keys: Tuple[Any, ...], values: Tuple[Any, ...]) -> bool:
    """Whether ``value`` holds exactly ``keys`` and ``values`` (the same objects, in order)."""
    if len(value) != len(keys):
        return False
    i = 0
    try:
        for k, v in value.items():
            if k is not keys[i] or v is not values[i]:
                return False
            i += 1
    except RuntimeError:  # changed by another thread meanwhile (the pure twin)
        return False
    return True


def to_context(value: Any) -> Context:
    """What the client accepts as a context: a Context, a context dict, or an old-style user dict."""
    if type(value) is Context:
        return value
    if isinstance(value, Context):
        return value
    if isinstance(value, dict):
        if "kind" in value:
            return _from_dict(value)
        return _from_old_user(value)
    if value is None:
        return _error_context("Cannot use None as a context")
    return _error_context("a context must be a Context or a dict, not %s" % type(value).__name__)


