from datetime import date

import module as m

BASIC = m.Plan("basic", 1000)
PRO = m.Plan("pro", 6200)
TEAM = m.Plan("team", 3100, trial_days=14, included_seats=3, seat_cents=500)


def test_plan_defaults():
    assert BASIC.trial_days == 0
    assert BASIC.included_seats == 1
    assert BASIC.seat_cents == 0


def test_subscription_defaults():
    sub = m.Subscription(BASIC, date(2024, 1, 1))
    other = m.Subscription(BASIC, date(2024, 1, 1))
    assert sub.seats == 1
    assert sub.credits == []
    sub.credits.append(5)
    assert other.credits == []


def test_trial_end_and_in_trial():
    sub = m.Subscription(TEAM, date(2024, 3, 1))
    assert sub.trial_end() == date(2024, 3, 15)
    assert sub.in_trial(date(2024, 3, 1)) is True
    assert sub.in_trial(date(2024, 3, 14)) is True
    assert sub.in_trial(date(2024, 3, 15)) is False


def test_no_trial_plan_is_billed_from_day_one():
    sub = m.Subscription(BASIC, date(2024, 3, 1))
    assert sub.trial_end() == date(2024, 3, 1)
    assert sub.in_trial(date(2024, 3, 1)) is False


def test_seat_charge():
    assert m.Subscription(TEAM, date(2024, 1, 1), seats=3).seat_charge() == 0
    assert m.Subscription(TEAM, date(2024, 1, 1), seats=5).seat_charge() == 1000
    assert m.Subscription(TEAM, date(2024, 1, 1), seats=1).seat_charge() == 0
    assert m.Subscription(TEAM, date(2024, 1, 1), seats=4).seat_charge() == 500


def test_add_months_plain_and_year_rollover():
    assert m.add_months(date(2024, 1, 15), 0) == date(2024, 1, 15)
    assert m.add_months(date(2024, 1, 15), 1) == date(2024, 2, 15)
    assert m.add_months(date(2024, 11, 15), 2) == date(2025, 1, 15)
    assert m.add_months(date(2024, 12, 15), 1) == date(2025, 1, 15)
    assert m.add_months(date(2024, 3, 10), 12) == date(2025, 3, 10)
    assert m.add_months(date(2024, 3, 10), 11) == date(2025, 2, 10)


def test_add_months_clamps_to_month_end():
    assert m.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert m.add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert m.add_months(date(2024, 1, 31), 3) == date(2024, 4, 30)
    assert m.add_months(date(2024, 1, 31), 2) == date(2024, 3, 31)


def test_period_bounds():
    anchor = date(2024, 1, 31)
    assert m.period_bounds(anchor, date(2024, 2, 10)) == (date(2024, 1, 31), date(2024, 2, 29))
    assert m.period_bounds(anchor, date(2024, 2, 29)) == (date(2024, 2, 29), date(2024, 3, 31))
    assert m.period_bounds(anchor, date(2024, 3, 15)) == (date(2024, 2, 29), date(2024, 3, 31))
    assert m.period_bounds(anchor, date(2024, 1, 31)) == (date(2024, 1, 31), date(2024, 2, 29))


def test_period_bounds_across_year_end():
    anchor = date(2023, 11, 30)
    assert m.period_bounds(anchor, date(2024, 2, 15)) == (date(2024, 1, 30), date(2024, 2, 29))
    assert m.period_bounds(anchor, date(2024, 3, 1)) == (date(2024, 2, 29), date(2024, 3, 30))
    assert m.period_bounds(anchor, date(2023, 12, 30)) == (date(2023, 12, 30), date(2024, 1, 30))


def test_prorate_rounds_down_to_int():
    start, end = date(2024, 1, 1), date(2024, 2, 1)
    assert m.prorate(1000, start, end, date(2024, 1, 11)) == 677
    assert m.prorate(3100, start, end, date(2024, 1, 11)) == 2100
    assert m.prorate(1000, start, end, start) == 1000
    assert m.prorate(1000, start, end, end) == 0
    assert isinstance(m.prorate(1000, start, end, date(2024, 1, 11)), int)


def test_plan_change_upgrade_and_downgrade():
    anchor, today = date(2024, 1, 1), date(2024, 1, 11)
    up = m.plan_change_amount(m.Subscription(BASIC, anchor), PRO, anchor, today)
    down = m.plan_change_amount(m.Subscription(PRO, anchor), BASIC, anchor, today)
    assert up == 4200 - 677
    assert down == 677 - 4200


def test_plan_change_in_later_period():
    anchor = date(2024, 1, 1)
    amount = m.plan_change_amount(m.Subscription(BASIC, anchor), PRO, anchor, date(2024, 3, 16))
    assert amount == 3200 - 516


def test_apply_credits_partial_and_exhausted():
    assert m.apply_credits(1000, [300, 500]) == (200, [])
    assert m.apply_credits(1000, [300, 800, 50]) == (0, [100, 50])
    assert m.apply_credits(800, [800, 100]) == (0, [100])
    assert m.apply_credits(0, [5]) == (0, [5])
    assert m.apply_credits(1000, [1200]) == (0, [200])
    assert m.apply_credits(1, [5, 3]) == (0, [4, 3])


def test_apply_credits_default_not_shared():
    first = m.apply_credits(500)
    assert first == (500, [])
    first[1].append(99)
    assert m.apply_credits(500) == (500, [])


def test_renewal_invoice_in_trial_bills_nothing():
    sub = m.Subscription(TEAM, date(2024, 3, 1), seats=5, credits=[700])
    invoice = m.renewal_invoice(sub, date(2024, 3, 10))
    assert invoice == {"plan": 0, "seats": 0, "credits_used": 0, "due": 0}
    assert sub.credits == [700]


def test_renewal_invoice_spends_credits_once():
    sub = m.Subscription(TEAM, date(2024, 3, 1), seats=5, credits=[1500])
    first = m.renewal_invoice(sub, date(2024, 3, 15))
    assert first == {"plan": 3100, "seats": 1000, "credits_used": 1500, "due": 2600}
    assert sub.credits == []
    second = m.renewal_invoice(sub, date(2024, 4, 15))
    assert second == {"plan": 3100, "seats": 1000, "credits_used": 0, "due": 4100}


def test_renewal_invoice_keeps_leftover_credit():
    sub = m.Subscription(BASIC, date(2024, 3, 1), credits=[400, 900])
    invoice = m.renewal_invoice(sub, date(2024, 4, 1))
    assert invoice["credits_used"] == 1000
    assert invoice["due"] == 0
    assert sub.credits == [300]


def test_upcoming_renewals():
    sub = m.Subscription(TEAM, date(2024, 1, 17))
    expected = [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)]
    assert m.upcoming_renewals(sub, 3) == expected
    assert m.upcoming_renewals(sub, 1) == [date(2024, 1, 31)]
    assert m.upcoming_renewals(sub, 0) == []


def test_annual_price():
    assert m.annual_price(BASIC) == 10200
    assert m.annual_price(m.Plan("odd", 999)) == 10189
    assert isinstance(m.annual_price(m.Plan("odd", 999)), int)


def test_dunning_action_thresholds():
    assert m.dunning_action(0) is None
    assert m.dunning_action(1) == "retry"
    assert m.dunning_action(2) == "retry"
    assert m.dunning_action(3) == "warn"
    assert m.dunning_action(4) == "warn"
    assert m.dunning_action(5) == "suspend"
    assert m.dunning_action(9) == "suspend"
