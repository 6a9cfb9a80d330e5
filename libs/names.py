"""Resource names (AIP-122): the ids in ``groups/{group}/expenses/{expense}`` and its kin.

One parser for every servicer, so a malformed name is the same INVALID_ARGUMENT
everywhere ("must look like groups/<id>/expenses/<id>", naming the field).
"""

from __future__ import annotations

from libs.errors import InvalidArgument

ID = "{}"


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
