"""Display names beside user ids in responses, so no screen needs a second call to label people.

The contract's one pattern: a string field holding a user (``payer``: "users/{id}") has an
output-only sibling with the person's name, ``payer_display_name`` (``display_name`` for a
field called ``user``). ``label`` finds every such pair in a response from its descriptor,
asks the user directory once for every id in it (the directory batches), and fills the
names still empty. A composition root registers its servicer wrapped by ``labelled``, so
every REST method's response is labelled and no method can forget to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import cache, partial
from typing import Any, Protocol, TypeVar, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from libs.rpc.descriptors import method_rules

Lookup = Callable[[Sequence[str]], Awaitable[Mapping[str, str]]]


class Names(Protocol):
    async def names(self, request: Any, user_ids: Sequence[str]) -> Mapping[str, str]:
        """Display names by user id, for the response to ``request`` (which may say where to
        look first, e.g. its group's roster); ids without a known name are left out."""


_USERS = "users/"
S = TypeVar("S")


def sibling(field: str) -> str:
    """The name field that goes with a user field."""
    return "display_name" if field == "user" else f"{field}_display_name"


def user_id(value: str) -> str:
    return value.removeprefix(_USERS)


@cache
def person_fields(descriptor: Descriptor) -> tuple[tuple[str, str], ...]:
    """(user field, name field) pairs declared directly on ``descriptor``."""
    by_name = descriptor.fields_by_name
    pairs = []
    for field in descriptor.fields:
        if field.type != FieldDescriptor.TYPE_STRING or _repeated(field):
            continue
        name_field = by_name.get(sibling(field.name))
        if name_field is not None and name_field.type == FieldDescriptor.TYPE_STRING:
            pairs.append((field.name, name_field.name))
    return tuple(pairs)


def _repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _message_fields(descriptor: Descriptor) -> Iterable[tuple[FieldDescriptor, Descriptor]]:
    """The fields of ``descriptor`` that hold messages (maps aside), with their types."""
    for field in descriptor.fields:
        message_type = field.message_type if field.type == FieldDescriptor.TYPE_MESSAGE else None
        if message_type is not None and not message_type.GetOptions().map_entry:
            yield field, message_type


@cache
def _holds_people(descriptor: Descriptor) -> bool:
    """Whether a person field is declared on ``descriptor`` or on any message it can hold."""
    seen: set[str] = set()
    pending = [descriptor]
    while pending:
        current = pending.pop()
        if current.full_name in seen:
            continue  # a message that can hold itself
        seen.add(current.full_name)
        if person_fields(current):
            return True
        pending.extend(message_type for _, message_type in _message_fields(current))
    return False


@cache
def _people_below(descriptor: Descriptor) -> tuple[tuple[str, bool], ...]:
    """(name, repeated) of the message fields under which a person can be: the walk does
    not look inside the others (an amount, a date)."""
    return tuple(
        (field.name, _repeated(field))
        for field, message_type in _message_fields(descriptor)
        if _holds_people(message_type)
    )


def _walk(message: Message) -> Iterable[Message]:
    yield message
    for name, repeated in _people_below(message.DESCRIPTOR):
        if repeated:
            for child in getattr(message, name):
                yield from _walk(child)
        elif message.HasField(name):
            yield from _walk(getattr(message, name))


def _unnamed(messages: Iterable[Message]) -> list[tuple[Message, str, str]]:
    """(message, user field, name field) for every person whose name is still empty."""
    found = []
    for root in messages:
        for message in _walk(root):
            for id_field, name_field in person_fields(message.DESCRIPTOR):
                if user_id(getattr(message, id_field)) and not getattr(message, name_field):
                    found.append((message, id_field, name_field))
    return found


async def label(messages: Message | Iterable[Message], lookup: Lookup) -> None:
    """Fill every empty display name beside a user id in ``messages`` with one lookup;
    a user the directory does not know keeps an empty name."""
    roots = [messages] if isinstance(messages, Message) else list(messages)
    slots = _unnamed(roots)
    if not slots:
        return
    ids = sorted({user_id(getattr(m, f)) for m, f, _ in slots})
    names = await lookup(ids)
    for message, id_field, name_field in slots:
        name = names.get(user_id(getattr(message, id_field)), "")
        if name:
            setattr(message, name_field, name)


class Labelled:
    """``servicer`` as registered with gRPC: the responses of the methods a signed-in user
    calls through the gateway carry display names. Internal methods answer other services,
    which need no names, so they cost no lookup."""

    def __init__(self, servicer: object, names: Names, service_full_name: str):
        self._servicer = servicer
        self._names = names
        self._methods = {
            path.rsplit("/", 1)[1]
            for path, rules in method_rules(service_full_name).items()
            if rules.has_http and not rules.public
        }

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._servicer, name)
        if name not in self._methods:
            return method
        names = self._names

        async def labelled(request: Any, context: Any) -> Any:
            response = await method(request, context)
            await label(response, partial(names.names, request))
            return response

        return labelled


def labelled(servicer: S, names: Names, service_full_name: str) -> S:
    """``servicer`` wrapped in ``Labelled``, typed as itself for the generated registration."""
    return cast(S, Labelled(servicer, names, service_full_name))
