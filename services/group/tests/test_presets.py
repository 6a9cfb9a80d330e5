"""Split preset rules: each mode's values, members only, and who has left."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libs.errors import InvalidArgument
from services.group.presets import Mode, Preset, PresetSpec, check

MEMBERS = {"asha", "ravi", "meera"}


def spec(mode: Mode, *entries: tuple[str, int], currency: str = "") -> PresetSpec:
    return PresetSpec("Rent", mode, tuple(entries), currency)


@pytest.mark.parametrize(
    ("preset", "field"),
    [
        (spec(Mode.PERCENT, ("asha", 6000), ("ravi", 3000)), "split_preset.entries.value"),
        (spec(Mode.PERCENT, ("asha", 12000)), "split_preset.entries[0].value"),
        (spec(Mode.SHARES, ("asha", 0), ("ravi", 0)), "split_preset.entries.value"),
        (spec(Mode.SHARES, ("asha", -1)), "split_preset.entries[0].value"),
        (spec(Mode.EXACT, ("asha", 500)), "split_preset.currency_code"),
        (spec(Mode.EXACT, ("asha", 500), currency="XYZ"), "split_preset.currency_code"),
        (spec(Mode.EQUAL, ("asha", 0), currency="INR"), "split_preset.currency_code"),
        (spec(Mode.EQUAL, ("asha", 0), ("asha", 0)), "split_preset.entries[1].user"),
        (spec(Mode.EQUAL, ("asha", 0), ("kiran", 0)), "split_preset.entries[1].user"),
        (spec(Mode.EQUAL), "split_preset.entries"),
        (PresetSpec(" ", Mode.EQUAL, (("asha", 0),)), "split_preset.display_name"),
    ],
)
def test_bad_presets_name_their_field(preset: PresetSpec, field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        check(preset, MEMBERS)
    assert err.value.field == field


def test_good_presets_pass_and_equal_ignores_values() -> None:
    assert check(spec(Mode.PERCENT, ("asha", 7000), ("ravi", 3000)), MEMBERS).entries[1] == ("ravi", 3000)
    assert check(spec(Mode.EXACT, ("asha", 500), ("ravi", 0), currency="INR"), MEMBERS).currency_code == "INR"
    assert check(spec(Mode.EQUAL, ("asha", 5), ("ravi", 9)), MEMBERS).entries == (("asha", 0), ("ravi", 0))


def test_a_preset_names_who_has_left_in_entry_order() -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    preset = Preset("p", "g", spec(Mode.SHARES, ("meera", 1), ("asha", 2), ("ravi", 1)), "asha", 1, now, now)
    assert preset.departed({"asha"}) == ["meera", "ravi"]
    assert preset.departed(MEMBERS) == []
