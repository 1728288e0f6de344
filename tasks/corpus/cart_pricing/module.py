"""Shopping cart pricing: volume tiers, bundle deals, coupons, tax and shipping.

Cart lines are dicts with "sku", "qty", "unit_price" (cents), "tax" (a TAX_RATES key) and the
optional flags "bundle" (buy 3, pay for 2) and "digital" (nothing to ship).
"""
from datetime import date

VOLUME_TIERS = [(50, 15), (20, 10), (10, 5)]
TAX_RATES = {"standard": 20, "reduced": 7, "zero": 0}
BUNDLE_SIZE = 3
FREE_SHIPPING_FROM = 5000
SHIPPING_FEE = 495


def percent_of(amount: int, percent: int) -> int:
    """amount * percent / 100, rounded half up to whole cents."""
    return (amount * percent + 50) // 100


def merge_lines(items: list[dict]) -> list[dict]:
    """Combine lines with the same SKU, keeping the first line's price and flags."""
    merged = {}
    for item in items:
        sku = item["sku"]
        if sku in merged:
            merged[sku]["qty"] += item["qty"]
        else:
            merged[sku] = dict(item)
    return list(merged.values())


def volume_discount_percent(quantity: int) -> int:
    """Percent off for the highest volume tier the quantity reaches."""
    for minimum, percent in VOLUME_TIERS:
        if quantity >= minimum:
            return percent
    return 0


def line_total(item: dict) -> int:
    """Price of one line after the bundle deal and the volume discount."""
    qty = item["qty"]
    paid_units = qty
    if item.get("bundle"):
        paid_units = qty - qty // BUNDLE_SIZE
    gross = paid_units * item["unit_price"]
    return gross - percent_of(gross, volume_discount_percent(qty))


def subtotal(items: list[dict]) -> int:
    total = 0
    for item in items:
        total += line_total(item)
    return total


def tax_total(items: list[dict]) -> int:
    """Tax per line at the rate of its tax category."""
    tax = 0
    for item in items:
        tax += percent_of(line_total(item), TAX_RATES[item["tax"]])
    return tax


def coupon_discount(coupon: dict, amount: int, today: date) -> int:
    """Discount a coupon gives on the amount; 0 when expired or below the minimum spend."""
    if today > coupon["expires"]:
        return 0
    if amount < coupon["min_spend"]:
        return 0
    if coupon["kind"] == "percent":
        return percent_of(amount, coupon["value"])
    return min(coupon["value"], amount)


def best_coupon(coupons: list[dict], amount: int, today: date) -> dict | None:
    """The coupon with the largest discount; only one coupon applies per order."""
    best = None
    best_discount = 0
    for coupon in coupons:
        discount = coupon_discount(coupon, amount, today)
        if discount > best_discount:
            best = coupon
            best_discount = discount
    return best


def shipping_fee(amount: int, items: list[dict]) -> int:
    """Free for digital-only carts and from FREE_SHIPPING_FROM after discounts."""
    if all(item.get("digital") for item in items):
        return 0
    if amount >= FREE_SHIPPING_FROM:
        return 0
    return SHIPPING_FEE


def checkout(items: list[dict], today: date, coupons: list[dict] | None = None) -> dict:
    """Order totals; the coupon reduces the tax in proportion to the discount."""
    if coupons is None:
        coupons = []
    lines = merge_lines(items)
    sub = subtotal(lines)
    coupon = best_coupon(coupons, sub, today)
    discount = 0 if coupon is None else coupon_discount(coupon, sub, today)
    tax = tax_total(lines)
    if sub > 0:
        tax = tax * (sub - discount) // sub
    shipping = shipping_fee(sub - discount, lines)
    totals = {"subtotal": sub, "discount": discount, "tax": tax, "shipping": shipping}
    totals["total"] = sub - discount + tax + shipping
    totals["coupon"] = None if coupon is None else coupon["code"]
    return totals
