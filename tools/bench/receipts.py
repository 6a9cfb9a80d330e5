"""Synthetic labelled receipts for the scan accuracy benchmark (and a few tests).

Each receipt is drawn with Pillow from a random but seeded description: Indian
restaurant bills with CGST/SGST and service charge, inter-state bills with IGST,
retail GST bills, and foreign bills (USD sales tax and tip, EUR with decimal
commas and VAT, GBP VAT and service, AED VAT, SGD service and GST, JPY without
decimals). Layouts differ (column tables with a header, "2 x item" lines, "2 @
price" lines), as do fonts, paper widths, sizes, a slight rotation, noise, blur
and JPEG compression. The label is what a perfect reader would report.

Fonts: Bitstream Vera from reportlab's wheel (a project dependency), plus DejaVu
from Debian's fonts-dejavu-core when installed (``make bench`` installs it).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


@dataclass(frozen=True)
class LabelItem:
    description: str
    quantity: int
    unit_minor: int
    amount_minor: int


@dataclass
class Label:
    merchant: str
    day: date
    currency: str
    items: list[LabelItem] = field(default_factory=list)
    taxes: list[tuple[str, str, int]] = field(default_factory=list)  # kind, printed label, amount
    tip_minor: int = 0
    discount_minor: int = 0
    total_minor: int = 0

    @property
    def subtotal_minor(self) -> int:
        return sum(i.amount_minor for i in self.items)


def font_files() -> list[Path]:
    import reportlab

    vera = Path(reportlab.__file__).parent / "fonts"
    found = [vera / n for n in ("Vera.ttf", "VeraBd.ttf") if (vera / n).exists()]
    for name in ("DejaVuSansMono.ttf", "DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono-Bold.ttf"):
        if (DEJAVU / name).exists():
            found.append(DEJAVU / name)
    return found


# --- what is on the bill -----------------------------------------------------------------

_INDIAN_DISHES = [
    "Paneer Tikka",
    "Butter Naan",
    "Dal Makhani",
    "Veg Biryani",
    "Chicken Biryani",
    "Masala Dosa",
    "Idli Sambar",
    "Filter Coffee",
    "Gulab Jamun",
    "Jeera Rice",
    "Tandoori Roti",
    "Chole Bhature",
    "Aloo Paratha",
    "Mango Lassi",
    "Fish Curry",
    "Mutton Rogan Josh",
    "Palak Paneer",
    "Veg Thali",
    "Fresh Lime Soda",
    "Masala Chai",
    "Rasmalai",
    "Kadai Chicken",
    "Malai Kofta",
    "Pav Bhaji",
]
_RETAIL = [
    "Basmati Rice 5kg",
    "Toor Dal 1kg",
    "Sunflower Oil 1L",
    "Atta 10kg",
    "Milk 500ml",
    "Paneer 200g",
    "Detergent 2kg",
    "Toothpaste",
    "Bath Soap",
    "Biscuits",
    "Green Tea",
    "Tomato Ketchup",
]
_WESTERN = [
    "Cheeseburger",
    "Caesar Salad",
    "Margherita Pizza",
    "Fish and Chips",
    "Iced Latte",
    "Cappuccino",
    "Club Sandwich",
    "French Fries",
    "Pasta Carbonara",
    "Chicken Wings",
    "Lemonade",
    "Cheesecake",
    "Tomato Soup",
    "Espresso",
    "Pancakes",
    "Grilled Salmon",
    "Croissant",
    "Orange Juice",
]
_MERCHANTS_IN = [
    "SPICE GARDEN", "Hotel Saravana Bhavan", "Cafe Mocha", "Punjab Grill", "Udupi Krishna",
    "Fresh Mart Supermarket", "Biryani House", "Chai Point", "Annapoorna Mess", "Green Leaf",
]  # fmt: skip
_MERCHANTS_XX = [
    "The Corner Bistro", "Blue Bottle Diner", "Cafe de Flore", "The Red Lion", "Marina Grill",
    "Lau Pa Sat Kitchen", "Sakura Ramen", "Harbour Cafe", "Olive Tree", "Sunset Deli",
]  # fmt: skip


def _price(rng: random.Random, currency: str) -> int:
    if currency == "JPY":
        return rng.randrange(300, 2400, 10)
    if currency == "INR":
        return rng.choice([rng.randrange(40, 700) * 100, rng.randrange(4000, 90000, 50)])
    return rng.randrange(250, 3500, 5)


def _pct(amount: int, basis_points: int) -> int:
    # Half-up rounding of a percentage of an integer amount, in integers only.
    return (amount * basis_points + 5000) // 10000


def make_label(rng: random.Random, kind: str) -> Label:
    today = date(2026, 1, 1) + timedelta(days=rng.randrange(0, 330))
    currency = {"in_food": "INR", "in_igst": "INR", "in_retail": "INR"}.get(kind, kind.split("_")[1].upper())
    indian = currency == "INR"
    names = _RETAIL if kind == "in_retail" else (_INDIAN_DISHES if indian else _WESTERN)
    merchant = rng.choice(_MERCHANTS_IN if indian else _MERCHANTS_XX)
    label = Label(merchant=merchant, day=today, currency=currency)
    for name in rng.sample(names, rng.randint(2, 7)):
        quantity = rng.choice([1, 1, 1, 2, 2, 3, 4])
        unit = _price(rng, currency)
        label.items.append(LabelItem(name, quantity, unit, unit * quantity))
    base = label.subtotal_minor
    if rng.random() < 0.2 and kind != "xx_jpy":
        label.discount_minor = _pct(base, rng.choice([500, 1000, 1500]))
    taxable = base - label.discount_minor
    if kind == "in_food":
        if rng.random() < 0.5:
            label.taxes.append(("SERVICE_CHARGE", "Service Charge 5%", _pct(taxable, 500)))
        label.taxes.append(("CGST", "CGST @ 2.5%", _pct(taxable, 250)))
        label.taxes.append(("SGST", "SGST @ 2.5%", _pct(taxable, 250)))
    elif kind == "in_igst":
        rate = rng.choice([500, 1200, 1800])
        label.taxes.append(("IGST", f"IGST @ {rate // 100}%", _pct(taxable, rate)))
    elif kind == "in_retail":
        label.taxes.append(("CGST", "CGST 9%", _pct(taxable, 900)))
        label.taxes.append(("SGST", "SGST 9%", _pct(taxable, 900)))
    elif kind == "xx_usd":
        label.taxes.append(("OTHER", "Sales Tax 8.875%", _pct(taxable, 888)))
        if rng.random() < 0.7:
            label.tip_minor = _pct(taxable, rng.choice([1500, 1800, 2000]))
    elif kind in ("xx_eur", "xx_aed"):
        rate = 500 if kind == "xx_aed" else 1000
        label.taxes.append(("VAT", f"VAT {rate // 100}%", _pct(taxable, rate)))
    elif kind == "xx_gbp":
        label.taxes.append(("SERVICE_CHARGE", "Service Charge 12.5%", _pct(taxable, 1250)))
        label.taxes.append(("VAT", "VAT 20%", _pct(taxable, 2000)))
    elif kind == "xx_sgd":
        label.taxes.append(("SERVICE_CHARGE", "Service Charge 10%", _pct(taxable, 1000)))
        label.taxes.append(("OTHER", "GST 9%", _pct(taxable, 900)))
    elif kind == "xx_jpy":
        label.taxes.append(("OTHER", "Tax 10%", _pct(taxable, 1000)))
    label.total_minor = base + sum(t[2] for t in label.taxes) + label.tip_minor - label.discount_minor
    return label


KINDS = ["in_food", "in_food", "in_food", "in_igst", "in_retail", "in_food",
         "xx_usd", "xx_eur", "xx_gbp", "xx_aed", "xx_sgd", "xx_jpy"]  # fmt: skip


# --- how it is printed -------------------------------------------------------------------


def _group(whole: int, indian: bool) -> str:
    digits = str(whole)
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    step = 2 if indian else 3
    parts: list[str] = []
    while head:
        parts.insert(0, head[-step:])
        head = head[:-step]
    return ",".join([*parts, tail])


def fmt(amount: int, currency: str, *, indian: bool = False, comma_decimal: bool = False) -> str:
    if currency == "JPY":
        return _group(amount, False)
    whole, frac = divmod(amount, 100)
    if comma_decimal:
        return f"{_group(whole, False).replace(',', '.')},{frac:02d}"
    return f"{_group(whole, indian)}.{frac:02d}"


_SYMBOL = {"INR": "Rs.", "USD": "$", "EUR": "€", "GBP": "£", "AED": "AED", "SGD": "S$", "JPY": "¥"}


@dataclass(frozen=True)
class Style:
    font: Path
    size: int
    width: int
    layout: str  # "table", "qty_first", "at_price"
    indian_grouping: bool
    comma_decimal: bool
    rupee_sign: bool
    angle: float
    noise: int
    blur: bool
    quality: int


def pick_style(rng: random.Random, label: Label, fonts: list[Path]) -> Style:
    font = rng.choice(fonts)
    return Style(
        font=font,
        size=rng.randint(17, 24),
        width=rng.randint(520, 760),
        layout=rng.choice(["table", "table", "qty_first", "at_price"]),
        indian_grouping=label.currency == "INR" and rng.random() < 0.6,
        comma_decimal=label.currency == "EUR" and rng.random() < 0.6,
        rupee_sign=label.currency == "INR" and "DejaVu" in font.name and rng.random() < 0.5,
        angle=rng.uniform(-2.0, 2.0),
        noise=rng.randint(0, 18),
        blur=rng.random() < 0.3,
        quality=rng.randint(60, 92),
    )


def _lines(label: Label, style: Style) -> list[tuple[str, str]]:
    """(left text, right text) rows, as printed."""
    cur = label.currency

    def money_(amount: int) -> str:
        return fmt(amount, cur, indian=style.indian_grouping, comma_decimal=style.comma_decimal)

    rows: list[tuple[str, str]] = [(label.merchant.upper() if cur == "INR" else label.merchant, "")]
    if cur == "INR":
        rows.append(("GSTIN 29ABCDE1234F1Z5", ""))
    day = label.day
    printed_day = {
        "USD": f"{day.month:02d}/{day.day:02d}/{day.year}",
        "JPY": f"{day.year}-{day.month:02d}-{day.day:02d}",
    }.get(cur, f"{day.day:02d}/{day.month:02d}/{day.year}")
    rows.append((f"Date: {printed_day}", f"Bill No {1000 + day.toordinal() % 9000}"))
    if style.layout == "table":
        rows.append(("Item          Qty   Rate", "Amount"))
        for item in label.items:
            rows.append(
                (
                    f"{item.description}   {item.quantity}   {money_(item.unit_minor)}",
                    money_(item.amount_minor),
                )
            )
    elif style.layout == "qty_first":
        for item in label.items:
            rows.append((f"{item.quantity} x {item.description}", money_(item.amount_minor)))
    else:
        for item in label.items:
            if item.quantity > 1:
                left = f"{item.description}  {item.quantity} @ {money_(item.unit_minor)}"
                rows.append((left, money_(item.amount_minor)))
            else:
                rows.append((item.description, money_(item.amount_minor)))
    rows.append(("Sub Total", money_(label.subtotal_minor)))
    if label.discount_minor:
        rows.append(("Discount", f"-{money_(label.discount_minor)}"))
    for _, text, amount in label.taxes:
        rows.append((text, money_(amount)))
    if label.tip_minor:
        rows.append(("Tip", money_(label.tip_minor)))
    symbol = "₹" if style.rupee_sign else _SYMBOL[cur]
    total_word = "Grand Total" if cur == "INR" else "TOTAL"
    rows.append((total_word, f"{symbol} {money_(label.total_minor)}"))
    rows.append(("Thank you! Visit again", ""))
    return rows


def render(label: Label, style: Style, rng: random.Random) -> bytes:
    font = ImageFont.truetype(str(style.font), style.size)
    rows = _lines(label, style)
    line_height = int(style.size * 1.6)
    margin = 24
    needed = max(font.getlength(f"{a}    {b}") for a, b in rows) + 2 * margin
    width = max(style.width, int(needed))
    height = line_height * len(rows) + 2 * margin
    paper = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(paper)
    for i, (left, right) in enumerate(rows):
        y = margin + i * line_height
        if not right and i == 0:
            x = (width - font.getlength(left)) / 2
            draw.text((x, y), left, font=font, fill=20)
            continue
        draw.text((margin, y), left, font=font, fill=20)
        if right:
            draw.text((width - margin - font.getlength(right), y), right, font=font, fill=20)
    picture = paper.rotate(style.angle, expand=True, fillcolor=235, resample=Image.Resampling.BICUBIC)
    if style.noise:
        noise = Image.effect_noise(picture.size, style.noise)
        picture = Image.blend(picture, noise, 0.12)
    if style.blur:
        picture = picture.filter(ImageFilter.GaussianBlur(0.6))
    out = io.BytesIO()
    picture.convert("RGB").save(out, "JPEG", quality=style.quality)
    return out.getvalue()


def generate(count: int, seed: int = 16) -> list[tuple[Label, Style, bytes]]:
    rng = random.Random(seed)
    fonts = font_files()
    out = []
    for i in range(count):
        label = make_label(rng, KINDS[i % len(KINDS)])
        style = pick_style(rng, label, fonts)
        out.append((label, style, render(label, style, rng)))
    return out
