"""Human-entered text: NFC, no control characters (line breaks only where multi-line), no bidi controls."""

from __future__ import annotations

import pytest

from libs import validation
from libs.errors import InvalidArgument


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("a\u202egnp.exe", "bidirectional"),  # right-to-left override: shows as "aexe.png"
        ("x\u2066y\u2069", "bidirectional"),  # isolates
        ("\u202aleft", "bidirectional"),
        ("del\u007f", "control"),
        ("next\u0085line", "control"),  # C1 NEL (inside: at an end it is trimmed as white space)
        ("csi\u009b31m", "control"),  # C1 CSI
        ("bell\u0007", "control"),
        ("tab\there", "control"),
        ("two\nlines", "control"),  # single-line field
    ],
)
def test_single_line_text_refuses_controls(raw: str, why: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        validation.text(raw, "group.display_name", max_length=100)
    assert err.value.field == "group.display_name" and why in err.value.message


def test_multiline_text_keeps_line_breaks_only() -> None:
    assert validation.text("paid\r\nin cash\n", "note", max_length=50, multiline=True) == "paid\nin cash"
    with pytest.raises(InvalidArgument, match="other than line breaks"):
        validation.text("a\tb", "note", max_length=50, multiline=True)
    with pytest.raises(InvalidArgument, match="bidirectional"):
        validation.text("line\n\u202e", "note", max_length=50, multiline=True)


def test_text_is_nfc_and_length_counts_code_points_after_it() -> None:
    decomposed = "Cafe\u0301"  # e + combining acute: five code points, four after NFC
    assert validation.text(decomposed, "name", max_length=4) == "Caf\u00e9"
    assert validation.text("₹ चाय", "name", max_length=5) == "₹ चाय"
    with pytest.raises(InvalidArgument, match="at most 3"):
        validation.text(decomposed, "name", max_length=3)
