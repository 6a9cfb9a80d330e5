"""Resource names (AIP-122): the ids in ``groups/{group}/expenses/{expense}`` and its kin.

One parser for every servicer, so a malformed name is the same INVALID_ARGUMENT
everywhere ("must look like groups/<id>/expenses/<id>", naming the field).
"""

from __future__ import annotations

from libs.errors import InvalidArgument, NotFound
from libs.validation import is_uuid

ID = "{}"
# "groups/-": every group of the caller, where a method allows it (AIP-159).
EVERY_GROUP = "-"
GROUP_NOT_FOUND = "group not found"


def parse(name: str, pattern: str, field: str = "name") -> tuple[str, ...]:
    """The ids of ``name``, which must have the segments of ``pattern`` (``{}`` for an id,
    any other segment literally), every id non-empty."""
    want, got = pattern.split("/"), name.split("/")
    if (
        len(got) != len(want)
        or not all(got)
        or any(w != ID and w != g for w, g in zip(want, got, strict=True))
    ):
        raise InvalidArgument(field, f"must look like {pattern.replace(ID, '<id>')}")
    return tuple(g for w, g in zip(want, got, strict=True) if w == ID)


def one(name: str, collection: str, field: str = "name") -> str:
    """The id in ``"<collection>/<id>"``."""
    (found,) = parse(name, f"{collection}/{ID}", field)
    return found


def in_group(name: str, collection: str, field: str = "name") -> tuple[str, str]:
    """(group id, id) of ``groups/<id>/<collection>/<id>``, e.g. an expense or a member."""
    group_id, child_id = parse(name, f"groups/{ID}/{collection}/{ID}", field)
    return group_id, child_id


def group(name: str, field: str = "name", *, allow_every: bool = False) -> str:
    """The group id of ``groups/<id>``, the one way every service reads it.

    ``groups/-`` is refused naming ``field`` unless ``allow_every``. A well-formed id that
    is not a UUID names no group: NOT_FOUND, the same answer as for a group the caller
    cannot see, so a probe learns nothing from the shape of an id."""
    group_id = one(name, "groups", field)
    if group_id == EVERY_GROUP:
        if not allow_every:
            raise InvalidArgument(field, "must name one group")
        return group_id
    if not is_uuid(group_id):
        raise NotFound(GROUP_NOT_FOUND)
    return group_id


def in_one_group(name: str, collection: str, field: str = "name") -> tuple[str, str]:
    """(group id, id) of ``groups/<id>/<collection>/<id>``, the group read as :func:`group` does."""
    group_id, child_id = in_group(name, collection, field)
    return group(f"groups/{group_id}", field), child_id
