from datetime import datetime

import pytest

import module as m

NOON = datetime(2024, 3, 5, 12, 0)


def play(listener=1, track=1, tier="premium", seconds=200, track_seconds=200, at=NOON):
    return m.Play(listener, track, tier, seconds, track_seconds, at)


def test_a_stream_needs_thirty_seconds_or_the_whole_short_track():
    assert m.counts_as_stream(play(seconds=30))
    assert not m.counts_as_stream(play(seconds=29))
    assert m.counts_as_stream(play(seconds=20, track_seconds=20))
    assert not m.counts_as_stream(play(seconds=19, track_seconds=20))
    assert m.counts_as_stream(play(seconds=30, track_seconds=30))
    assert not m.counts_as_stream(play(seconds=29, track_seconds=30))
    assert m.counts_as_stream(play(seconds=31, track_seconds=45))


def test_streams_of_the_month_only():
    plays = [play(at=datetime(2024, 2, 29, 23, 59)), play(at=datetime(2024, 3, 1, 0, 0)), play(at=datetime(2024, 3, 31, 23, 59)),
             play(at=datetime(2024, 4, 1, 0, 0)), play(at=datetime(2023, 3, 10, 9, 0))]
    assert m.qualifying_streams(plays, 2024, 3) == {"premium": {1: 2}}
    assert m.qualifying_streams(plays, 2024, 2) == {"premium": {1: 1}}
    assert m.qualifying_streams(plays, 2024, 5) == {}


def test_streams_per_tier_and_track():
    plays = [play(track=1), play(track=2), play(track=2, tier="free"), play(listener=2, track=2, tier="free"),
             play(track=3, seconds=10), play(track=4, tier="family", seconds=25, track_seconds=25)]
    assert m.qualifying_streams(plays, 2024, 3) == {"premium": {1: 1, 2: 1}, "free": {2: 2}, "family": {4: 1}}


def test_daily_cap_per_listener_and_track():
    plays = [play() for _ in range(12)]
    assert m.qualifying_streams(plays, 2024, 3) == {"premium": {1: m.DAILY_CAP}}
    plays += [play(at=datetime(2024, 3, 6, 8, 0)) for _ in range(3)]
    plays += [play(listener=2) for _ in range(4)] + [play(track=2) for _ in range(11)]
    assert m.qualifying_streams(plays, 2024, 3) == {"premium": {1: 10 + 3 + 4, 2: 10}}


def test_short_plays_do_not_use_up_the_cap():
    plays = [play(seconds=5) for _ in range(10)] + [play() for _ in range(10)]
    assert m.qualifying_streams(plays, 2024, 3) == {"premium": {1: 10}}
    plays = [play(at=datetime(2024, 2, 1, 12, 0)) for _ in range(10)] + [play() for _ in range(10)]
    assert m.qualifying_streams(plays, 2024, 3) == {"premium": {1: 10}}


def test_tier_pools():
    assert m.tier_pools({"premium": 1_000_000, "free": 999}) == {"premium": 520_000, "free": 519}
    assert m.tier_pools({"student": 0, "family": -50, "premium": 10_000}) == {"premium": 5_200}
    assert m.tier_pools({}) == {}
    with pytest.raises(ValueError):
        m.tier_pools({"platinum": 100})


def test_pro_rata_pays_the_pool_exactly():
    assert m.allocate_pro_rata(100, {1: 1, 2: 1, 3: 1}) == {1: 34, 2: 33, 3: 33}
    assert m.allocate_pro_rata(100, {3: 1, 2: 1, 1: 1}) == {1: 34, 2: 33, 3: 33}
    assert m.allocate_pro_rata(10, {5: 3, 2: 3, 9: 1}) == {5: 4, 2: 4, 9: 2}
    assert m.allocate_pro_rata(1000, {1: 2, 2: 1}) == {1: 667, 2: 333}
    assert m.allocate_pro_rata(520_000, {7: 600, 8: 400}) == {7: 312_000, 8: 208_000}
    shares = m.allocate_pro_rata(99_999, {track: track for track in range(1, 40)})
    assert sum(shares.values()) == 99_999
    assert shares[39] > shares[38] > shares[1]


def test_pro_rata_without_streams_or_money():
    assert m.allocate_pro_rata(500, {}) == {}
    assert m.allocate_pro_rata(500, {1: 0}) == {}
    assert m.allocate_pro_rata(0, {1: 5, 2: 3}) == {1: 0, 2: 0}
    assert m.allocate_pro_rata(2, {4: 1, 2: 1, 3: 1}) == {4: 0, 2: 1, 3: 1}


def test_rate_per_thousand_streams_rounds_half_up():
    assert m.rate_per_thousand(520_000, 1_000_000) == 520
    assert m.rate_per_thousand(1, 2000) == 1
    assert m.rate_per_thousand(1, 2001) == 0
    assert m.rate_per_thousand(3, 2000) == 2
    assert m.rate_per_thousand(7, 3) == 2333
    assert m.rate_per_thousand(500, 0) == 0
    assert m.rate_per_thousand(500, -1) == 0


def test_split_among_holders():
    assert m.split_among_holders(100, {1: 5000, 2: 3000, 3: 2000}) == {1: 50, 2: 30, 3: 20}
    assert m.split_among_holders(101, {1: 5000, 2: 3000, 3: 2000}) == {1: 51, 2: 30, 3: 20}
    assert m.split_among_holders(109, {1: 5000, 2: 3000, 3: 2000}) == {1: 55, 2: 33, 3: 21}
    assert m.split_among_holders(7, {4: 3333, 2: 3333, 9: 3334}) == {4: 2, 2: 2, 9: 3}
    assert m.split_among_holders(2, {4: 3333, 2: 3333, 9: 3334}) == {4: 0, 2: 1, 9: 1}
    assert m.split_among_holders(0, {1: 10_000}) == {1: 0}
    assert m.split_among_holders(12_345, {6: 10_000}) == {6: 12_345}


def test_split_shares_must_add_up():
    for shares in ({1: 5000, 2: 4999}, {1: 5000, 2: 5001}, {1: 10_000, 2: 0}, {1: 10_500, 2: -500}):
        with pytest.raises(ValueError):
            m.split_among_holders(100, shares)


def test_monthly_run():
    plays = ([play(listener=n, track=1) for n in range(6)] + [play(listener=n, track=2) for n in range(4)]
             + [play(listener=n, track=2, tier="free") for n in range(3)] + [play(track=1, seconds=12)]
             + [play(track=1, at=datetime(2024, 4, 2, 9, 0))])
    splits = {1: {10: 7000, 11: 3000}, 2: {11: 5000, 12: 5000}}
    earned, rates = m.monthly_run(plays, {"premium": 100_000, "free": 2_001, "student": 9_000}, splits, 2024, 3)
    # premium pool 52_000: track 1 31_200 (70/30), track 2 20_800 (50/50); free pool 1_040 to track 2
    assert earned == {10: 21_840, 11: 9_360 + 10_400 + 520, 12: 10_400 + 520}
    assert sum(earned.values()) == 52_000 + 1_040
    assert rates == {"premium": 5_200_000, "free": 346_667, "student": 0}


def test_monthly_run_of_a_month_without_streams():
    assert m.monthly_run([play()], {"premium": 100_000}, {1: {10: 10_000}}, 2024, 4) == ({}, {"premium": 0})


def test_recoupment_of_advances():
    assert m.recoup(5_000, 3_000) == (3_000, 0)
    assert m.recoup(2_000, 3_000) == (2_000, 1_000)
    assert m.recoup(3_000, 3_000) == (3_000, 0)
    assert m.recoup(5_000, 0) == (0, 0)
    assert m.recoup(5_000, 10_000, recoup_pct=50) == (2_500, 7_500)
    assert m.recoup(5_001, 10_000, recoup_pct=50) == (2_500, 7_500)
    assert m.recoup(5_000, 1_000, recoup_pct=50) == (1_000, 0)


def test_quarters():
    assert m.quarter_of(2024, 1) == (2024, 1)
    assert m.quarter_of(2024, 3) == (2024, 1)
    assert m.quarter_of(2024, 4) == (2024, 2)
    assert m.quarter_of(2024, 9) == (2024, 3)
    assert m.quarter_of(2024, 10) == (2024, 4)
    assert m.quarter_of(2024, 12) == (2024, 4)
    for month in (0, 13):
        with pytest.raises(ValueError):
            m.quarter_of(2024, month)


EARNINGS = {(2023, 2): 999, (2024, 1): 1_000, (2024, 3): 2_500, (2024, 4): 1_500, (2024, 7): 900, (2024, 9): 1_050,
            (2024, 12): 4_000}


def test_quarterly_statement_recoups_then_pays():
    statement = m.quarterly_statement(7, EARNINGS, 2024, 1, advance_cents=1_000)
    assert statement == m.Statement(7, 2024, 1, earned_cents=3_500, recouped_cents=1_000, carried_in_cents=0, paid_cents=2_500,
                                    carried_out_cents=0, advance_left_cents=0)
    statement = m.quarterly_statement(7, EARNINGS, 2024, 1, advance_cents=5_000)
    assert (statement.recouped_cents, statement.paid_cents, statement.advance_left_cents) == (3_500, 0, 1_500)


def test_small_amounts_are_carried_forward():
    statement = m.quarterly_statement(7, EARNINGS, 2024, 2, advance_cents=0)
    assert (statement.earned_cents, statement.paid_cents, statement.carried_out_cents) == (1_500, 0, 1_500)
    statement = m.quarterly_statement(7, EARNINGS, 2024, 3, advance_cents=0, carried_cents=50)
    assert (statement.carried_in_cents, statement.paid_cents, statement.carried_out_cents) == (50, 2_000, 0)
    statement = m.quarterly_statement(7, EARNINGS, 2024, 3, advance_cents=0, carried_cents=49)
    assert (statement.paid_cents, statement.carried_out_cents) == (0, 1_999)
    statement = m.quarterly_statement(7, EARNINGS, 2024, 3, advance_cents=0, carried_cents=51)
    assert (statement.paid_cents, statement.carried_out_cents) == (2_001, 0)


def test_statements_for_a_year_carry_advance_and_balance():
    statements = m.statements_for_year(7, EARNINGS, 2024, advance_cents=2_000, carried_cents=300)
    assert [(s.quarter, s.earned_cents, s.recouped_cents, s.carried_in_cents, s.paid_cents, s.carried_out_cents, s.advance_left_cents)
            for s in statements] == [
        (1, 3_500, 2_000, 300, 0, 1_800, 0),
        (2, 1_500, 0, 1_800, 3_300, 0, 0),
        (3, 1_950, 0, 0, 0, 1_950, 0),
        (4, 4_000, 0, 1_950, 5_950, 0, 0),
    ]
    assert [s.year for s in statements] == [2024] * 4 and {s.holder_id for s in statements} == {7}
    unrecouped = m.statements_for_year(7, EARNINGS, 2024, advance_cents=50_000)
    assert [s.advance_left_cents for s in unrecouped] == [46_500, 45_000, 43_050, 39_050]
    assert sum(s.paid_cents for s in unrecouped) == 0
    assert m.statements_for_year(7, {}, 2023, advance_cents=0)[-1].paid_cents == 0
