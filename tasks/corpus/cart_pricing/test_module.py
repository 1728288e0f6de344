from datetime import date

import module as m

TODAY = date(2024, 6, 30)
TEN = {"code": "TEN", "kind": "percent", "value": 10, "min_spend": 2000, "expires": TODAY}
FIVE_OFF = {"code": "FIVE", "kind": "fixed", "value": 500, "min_spend": 0, "expires": TODAY}


def line(sku, qty, price, tax="standard", **flags):
    return {"sku": sku, "qty": qty, "unit_price": price, "tax": tax, **flags}


def test_percent_of_rounds_half_up():
    assert m.percent_of(1000, 20) == 200
    assert m.percent_of(999, 5) == 50
    assert m.percent_of(990, 5) == 50
    assert m.percent_of(989, 5) == 49
    assert m.percent_of(0, 20) == 0
    assert isinstance(m.percent_of(989, 5), int)


def test_merge_lines_combines_skus_without_touching_input():
    items = [line("A", 2, 100), line("B", 1, 50), line("A", 3, 999)]
    merged = m.merge_lines(items)
    assert merged == [line("A", 5, 100), line("B", 1, 50)]
    assert items[0]["qty"] == 2
    assert m.merge_lines([]) == []


def test_volume_discount_percent_tiers():
    expected = {1: 0, 9: 0, 10: 5, 19: 5, 20: 10, 49: 10, 50: 15, 200: 15}
    for qty, percent in expected.items():
        assert m.volume_discount_percent(qty) == percent


def test_line_total_plain_and_bundle():
    assert m.line_total(line("A", 2, 1000)) == 2000
    assert m.line_total(line("B", 7, 300, bundle=True)) == 1500
    assert m.line_total(line("B", 3, 300, bundle=True)) == 600
    assert m.line_total(line("B", 2, 300, bundle=True)) == 600
    assert m.line_total(line("B", 3, 300, bundle=False)) == 900


def test_line_total_volume_discount():
    assert m.line_total(line("C", 10, 199)) == 1890
    assert m.line_total(line("D", 12, 100, bundle=True)) == 760
    assert m.line_total(line("E", 20, 100)) == 1800


def test_subtotal():
    assert m.subtotal([line("A", 2, 1000), line("C", 10, 199)]) == 3890
    assert m.subtotal([line("A", 1, 5)]) == 5
    assert m.subtotal([]) == 0


def test_tax_total_per_category():
    items = [line("A", 1, 1000), line("C", 10, 199, tax="reduced"), line("Z", 1, 700, tax="zero")]
    assert m.tax_total(items) == 200 + 132
    assert m.tax_total([line("Z", 1, 700, tax="zero")]) == 0
    assert m.tax_total([line("R", 1, 1000, tax="reduced")]) == 70
    assert m.tax_total([]) == 0


def test_coupon_discount_expiry_and_minimum():
    assert m.coupon_discount(TEN, 2000, TODAY) == 200
    assert m.coupon_discount(TEN, 2000, date(2024, 7, 1)) == 0
    assert m.coupon_discount(TEN, 1999, TODAY) == 0
    assert m.coupon_discount(TEN, 2345, date(2024, 1, 1)) == 235


def test_coupon_discount_fixed_never_exceeds_amount():
    assert m.coupon_discount(FIVE_OFF, 300, TODAY) == 300
    assert m.coupon_discount(FIVE_OFF, 1000, TODAY) == 500


def test_best_coupon():
    assert m.best_coupon([TEN, FIVE_OFF], 3000, TODAY) is FIVE_OFF
    assert m.best_coupon([FIVE_OFF, TEN], 9000, TODAY) is TEN
    assert m.best_coupon([TEN, FIVE_OFF], 5000, TODAY) is TEN
    assert m.best_coupon([TEN], 1000, TODAY) is None
    assert m.best_coupon([TEN, FIVE_OFF], 1, TODAY) is FIVE_OFF
    assert m.best_coupon([], 1000, TODAY) is None


def test_shipping_fee():
    physical = [line("A", 1, 100)]
    digital = [line("E", 1, 100, digital=True)]
    assert m.shipping_fee(4999, physical) == 495
    assert m.shipping_fee(5000, physical) == 0
    assert m.shipping_fee(100, digital) == 0
    assert m.shipping_fee(100, digital + physical) == 495
    assert m.shipping_fee(0, []) == 0


def test_checkout_with_coupon_and_merged_lines():
    items = [line("A", 2, 1500), line("B", 3, 800, tax="reduced", bundle=True), line("A", 1, 1500)]
    totals = m.checkout(items, TODAY, [FIVE_OFF, TEN])
    assert totals == {"subtotal": 6100, "discount": 610, "tax": 910, "shipping": 0,
                      "total": 6400, "coupon": "TEN"}


def test_checkout_without_coupons_default_twice():
    items = [line("A", 3, 1500), line("B", 3, 800, tax="reduced", bundle=True)]
    first = m.checkout(items, TODAY)
    assert first == {"subtotal": 6100, "discount": 0, "tax": 1012, "shipping": 0,
                     "total": 7112, "coupon": None}
    assert m.checkout(items, TODAY) == first


def test_checkout_discount_can_bring_back_shipping():
    totals = m.checkout([line("A", 1, 5200)], TODAY, [FIVE_OFF])
    assert totals["discount"] == 500
    assert totals["tax"] == 1040 * 4700 // 5200
    assert totals["shipping"] == 495
    assert totals["total"] == 4700 + 940 + 495


def test_checkout_small_and_empty_orders():
    small = m.checkout([line("A", 1, 1000)], TODAY)
    assert small["tax"] == 200
    assert small["shipping"] == 495
    assert small["total"] == 1695
    assert m.checkout([], TODAY)["total"] == 0
