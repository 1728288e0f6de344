from datetime import date, timedelta

import pytest

import module as m

BDAY = date(1990, 7, 14)


def member(tier="bronze", spend=0, batches=None, member_id="m1"):
    record = m.new_member(member_id, BDAY)
    record["tier"] = tier
    record["spend"] = spend
    record["batches"] = [list(b) for b in (batches or [])]
    return record


def test_new_member():
    assert m.new_member("m9", BDAY) == {
        "id": "m9", "birthday": BDAY, "tier": "bronze", "spend": 0, "batches": [],
    }
    a = m.new_member("a", BDAY)
    b = m.new_member("b", BDAY)
    a["batches"].append([BDAY, 1])
    assert b["batches"] == []


def test_tier_for_spend_inclusive_thresholds():
    assert m.tier_for_spend(0) == "bronze"
    assert m.tier_for_spend(49_999) == "bronze"
    assert m.tier_for_spend(50_000) == "silver"
    assert m.tier_for_spend(199_999) == "silver"
    assert m.tier_for_spend(200_000) == "gold"
    assert m.tier_for_spend(10_000_000) == "gold"


def test_points_for_purchase_per_whole_euro_and_tier():
    day = date(2024, 3, 1)
    assert m.points_for_purchase(member(), 1099, day) == 10
    assert m.points_for_purchase(member(), 99, day) == 0
    assert m.points_for_purchase(member("silver"), 1099, day) == 20
    assert m.points_for_purchase(member("gold"), 1000, day) == 30
    assert m.points_for_purchase(member("gold"), 250, day) == 6


def test_points_for_purchase_birthday_month_doubles():
    assert m.points_for_purchase(member(), 1000, date(2024, 7, 1)) == 20
    assert m.points_for_purchase(member(), 1000, date(2024, 7, 31)) == 20
    assert m.points_for_purchase(member("silver"), 1000, date(2024, 8, 1)) == 20
    assert m.points_for_purchase(member("gold"), 150, date(2024, 7, 14)) == 6


def test_record_purchase_updates_spend_tier_and_batches():
    rec = member()
    day = date(2024, 3, 1)
    assert m.record_purchase(rec, 49_999, day) == 499
    assert rec["spend"] == 49_999 and rec["tier"] == "bronze"
    assert m.record_purchase(rec, 1, day) == 0
    assert rec["tier"] == "silver"
    assert rec["batches"] == [[day, 499]]
    assert m.record_purchase(rec, 1000, date(2024, 3, 2)) == 20
    assert rec["batches"] == [[day, 499], [date(2024, 3, 2), 20]]
    assert rec["spend"] == 51_000


def test_record_purchase_uses_tier_before_purchase():
    rec = member(spend=40_000)
    assert m.record_purchase(rec, 160_000, date(2024, 3, 1)) == 1600
    assert rec["tier"] == "gold"
    assert m.record_purchase(rec, 100, date(2024, 3, 1)) == 3


def test_record_purchase_rejects_non_positive():
    rec = member()
    with pytest.raises(ValueError):
        m.record_purchase(rec, 0, date(2024, 3, 1))
    with pytest.raises(ValueError):
        m.record_purchase(rec, -100, date(2024, 3, 1))
    assert rec["spend"] == 0


def test_balance():
    assert m.balance(member()) == 0
    assert m.balance(member(batches=[(BDAY, 5)])) == 5
    assert m.balance(member(batches=[(BDAY, 5), (BDAY, 7), (BDAY, 100)])) == 112


def test_expire_points_boundary():
    today = date(2024, 6, 1)
    old = today - timedelta(days=366)
    edge = today - timedelta(days=365)
    new = today - timedelta(days=10)
    rec = member(batches=[(old, 40), (edge, 30), (new, 20)])
    assert m.expire_points(rec, today) == 40
    assert rec["batches"] == [[edge, 30], [new, 20]]
    assert m.expire_points(rec, today + timedelta(days=1)) == 30
    assert rec["batches"] == [[new, 20]]
    assert m.expire_points(rec, today) == 0


def test_expire_points_last_batch_and_all():
    today = date(2024, 6, 1)
    rec = member(batches=[(date(2022, 1, 1), 5), (date(2022, 2, 1), 6)])
    assert m.expire_points(rec, today) == 11
    assert rec["batches"] == []


def test_redeemable():
    assert m.redeemable(0) == 0
    assert m.redeemable(499) == 0
    assert m.redeemable(500) == 500
    assert m.redeemable(599) == 500
    assert m.redeemable(600) == 600
    assert m.redeemable(1234) == 1200


def test_redeem_oldest_batches_first():
    d1, d2, d3 = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)
    rec = member(batches=[(d1, 300), (d2, 250), (d3, 400)])
    assert m.redeem(rec, 600) == 600
    assert rec["batches"] == [[d3, 350]]
    assert m.balance(rec) == 350


def test_redeem_exact_batch_and_whole_balance():
    d1, d2 = date(2024, 1, 1), date(2024, 2, 1)
    rec = member(batches=[(d1, 500), (d2, 500)])
    assert m.redeem(rec, 500) == 500
    assert rec["batches"] == [[d2, 500]]
    assert m.redeem(rec, 500) == 500
    assert rec["batches"] == []


def test_redeem_partial_first_batch():
    d1, d2 = date(2024, 1, 1), date(2024, 2, 1)
    rec = member(batches=[(d1, 800), (d2, 100)])
    assert m.redeem(rec, 600) == 600
    assert rec["batches"] == [[d1, 200], [d2, 100]]


def test_redeem_rejects_invalid_amounts():
    rec = member(batches=[(date(2024, 1, 1), 700)])
    for points in (400, 550, 800):
        with pytest.raises(ValueError):
            m.redeem(rec, points)
    assert rec["batches"] == [[date(2024, 1, 1), 700]]
    assert m.redeem(rec, 700) == 700


def test_expiring_soon_window_boundaries():
    today = date(2024, 6, 1)
    batches = [
        (today - timedelta(days=366), 1),    # already expired, not "soon"
        (today - timedelta(days=365), 2),    # last day
        (today - timedelta(days=336), 4),    # expires within 29 days
        (today - timedelta(days=335), 8),    # exactly 30 days left -> outside
        (today - timedelta(days=10), 16),
    ]
    rec = member(batches=batches)
    assert m.expiring_soon(rec, today) == 6
    assert m.expiring_soon(rec, today, within_days=31) == 14
    assert m.expiring_soon(rec, today, within_days=1) == 2
    assert m.expiring_soon(member(), today) == 0


def test_next_tier_gap():
    assert m.next_tier_gap(member(spend=0)) == ("silver", 50_000)
    assert m.next_tier_gap(member(spend=49_999)) == ("silver", 1)
    assert m.next_tier_gap(member(spend=50_000)) == ("gold", 150_000)
    assert m.next_tier_gap(member(spend=199_000)) == ("gold", 1_000)
    assert m.next_tier_gap(member(spend=200_000)) is None


def test_leaderboard():
    members = [
        member(member_id="c", batches=[(BDAY, 50)]),
        member(member_id="a", batches=[(BDAY, 50)]),
        member(member_id="b", batches=[(BDAY, 70)]),
        member(member_id="d"),
    ]
    assert m.leaderboard(members) == [("b", 70), ("a", 50), ("c", 50)]
    assert m.leaderboard(members, 1) == [("b", 70)]
    assert m.leaderboard(members, 10)[-1] == ("d", 0)
    assert m.leaderboard([]) == []


def test_statement():
    rec = member(batches=[(date(2024, 1, 5), 12), (date(2024, 2, 9), 300)])
    assert m.statement(rec) == ["2024-01-05: 12 points", "2024-02-09: 300 points"]
    existing = ["Statement for m1"]
    assert m.statement(rec, existing) is existing
    assert existing[1:] == ["2024-01-05: 12 points", "2024-02-09: 300 points"]


def test_statement_default_not_shared():
    rec = member(batches=[(date(2024, 1, 5), 12)])
    first = m.statement(rec)
    second = m.statement(rec)
    assert first == second == ["2024-01-05: 12 points"]
