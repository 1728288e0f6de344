from datetime import datetime

import module as m

MON = datetime(2024, 3, 4)


def at(day, hour, minute=0):
    return datetime(2024, 3, 4 + day, hour, minute)


def shift(name, day, start, end, end_day=None):
    return m.Shift(name, at(day, start), at(day if end_day is None else end_day, end))


def test_hours_is_float():
    assert shift("a", 0, 9, 17).hours() == 8.0
    assert m.Shift("a", at(0, 9), at(0, 10, 30)).hours() == 1.5
    assert shift("a", 0, 22, 6, end_day=1).hours() == 8.0


def test_overlaps():
    a = shift("a", 0, 9, 17)
    assert m.overlaps(a, shift("b", 0, 16, 20))
    assert m.overlaps(shift("b", 0, 6, 10), a)
    assert m.overlaps(a, shift("b", 0, 10, 11))
    assert m.overlaps(a, a)


def test_overlaps_touching_is_not_overlap():
    a = shift("a", 0, 9, 17)
    assert not m.overlaps(a, shift("b", 0, 17, 20))
    assert not m.overlaps(shift("b", 0, 6, 9), a)
    assert not m.overlaps(a, shift("b", 0, 6, 9))
    assert not m.overlaps(shift("b", 0, 17, 20), a)
    assert not m.overlaps(a, shift("b", 0, 18, 20))
    assert not m.overlaps(shift("b", 0, 6, 8), a)


def test_shift_problems():
    assert m.shift_problems(shift("a", 0, 9, 17)) == []
    assert m.shift_problems(shift("a", 0, 8, 20)) == []
    assert m.shift_problems(m.Shift("a", at(0, 8), at(0, 20, 1))) == ["longer than 12 hours"]
    assert m.shift_problems(shift("a", 0, 9, 9)) == ["ends before it starts"]
    assert m.shift_problems(shift("a", 0, 10, 9)) == ["ends before it starts"]


def test_rest_violations_exact_boundary():
    early = shift("a", 0, 9, 20)
    ok = shift("a", 1, 7, 15)      # 11 h rest exactly
    short = shift("a", 1, 6, 14)   # 10 h rest
    assert m.rest_violations([early, ok]) == []
    assert m.rest_violations([short, early]) == [(early, short)]


def test_rest_violations_only_same_employee_and_consecutive():
    a1 = shift("a", 0, 9, 20)
    b1 = shift("b", 1, 6, 14)
    a2 = shift("a", 1, 6, 14)
    a3 = shift("a", 3, 6, 14)
    assert m.rest_violations([a3, b1, a2, a1]) == [(a1, a2)]
    assert m.rest_violations([a1]) == []
    assert m.rest_violations([]) == []


def test_rest_violations_last_pair_and_sorted_order():
    b1 = shift("b", 0, 9, 20)
    b2 = shift("b", 1, 5, 12)
    a1 = shift("a", 0, 9, 20)
    a2 = shift("a", 1, 5, 12)
    assert m.rest_violations([b2, a2, b1, a1]) == [(a1, a2), (b1, b2)]


def test_weekly_hours():
    shifts = [shift("a", 0, 9, 17), shift("b", 0, 9, 13), m.Shift("a", at(1, 9), at(1, 9, 30))]
    assert m.weekly_hours(shifts) == {"a": 8.5, "b": 4.0}
    assert m.weekly_hours([]) == {}


def test_over_limit_is_strict_and_sorted():
    shifts = [shift(name, day, 8, 20) for day in range(4) for name in ("zed", "amy", "kim")]
    shifts.append(shift("amy", 4, 8, 9))
    shifts.append(shift("zed", 4, 8, 9))
    assert m.over_limit(shifts) == ["amy", "zed"]
    assert m.over_limit(shifts, limit=49) == []
    assert m.over_limit(shifts, limit=47) == ["amy", "kim", "zed"]


def test_coverage_counts_full_hours_only():
    shifts = [
        shift("a", 0, 8, 12),
        shift("b", 0, 10, 14),
        m.Shift("c", at(0, 9, 30), at(0, 11)),
        shift("d", 1, 8, 20),
    ]
    assert m.coverage(shifts, MON, 8, 14) == [1, 1, 3, 2, 1, 1]


def test_coverage_first_and_last_hour():
    shifts = [shift("a", 0, 8, 9), shift("b", 0, 19, 20)]
    counts = m.coverage(shifts, MON)
    assert len(counts) == 12
    assert counts[0] == 1
    assert counts[-1] == 1
    assert sum(counts) == 2


def test_coverage_overnight_shift():
    night = shift("n", 0, 22, 6, end_day=1)
    assert m.coverage([night], at(1, 0), 4, 8) == [1, 1, 0, 0]


def test_understaffed_hours():
    assert m.understaffed_hours([1, 2, 3, 0], 2) == [8, 11]
    assert m.understaffed_hours([1, 2, 3, 0], 2, open_hour=10) == [10, 13]
    assert m.understaffed_hours([2, 2], 2) == []
    assert m.understaffed_hours([], 2) == []


def test_first_available_respects_order_and_rest():
    shifts = [shift("amy", 0, 9, 20), shift("bob", 1, 14, 22)]
    # slot day 1 07:00-13:00: amy has 11h rest exactly, bob ends 1h before his shift
    start, end = at(1, 7), at(1, 13)
    assert m.first_available(shifts, ["amy", "bob"], start, end) == "amy"
    assert m.first_available(shifts, ["bob", "amy"], start, end) == "amy"
    assert m.first_available(shifts, ["cat", "amy"], start, end) == "cat"


def test_first_available_rest_before_next_shift():
    shifts = [shift("bob", 1, 14, 22)]
    assert m.first_available(shifts, ["bob"], at(0, 20), at(1, 3)) == "bob"
    assert m.first_available(shifts, ["bob"], at(0, 20), at(1, 4)) is None
    assert m.first_available(shifts, ["bob"], at(1, 15), at(1, 16)) is None
    assert m.first_available(shifts, [], at(1, 15), at(1, 16)) is None


def test_first_available_last_candidate():
    shifts = [shift("amy", 1, 9, 17), shift("bob", 1, 9, 17)]
    assert m.first_available(shifts, ["amy", "bob", "cat"], at(1, 10), at(1, 12)) == "cat"


def test_split_at_midnight():
    night = shift("n", 0, 22, 6, end_day=1)
    assert m.split_at_midnight(night) == [
        m.Shift("n", at(0, 22), at(1, 0)),
        m.Shift("n", at(1, 0), at(1, 6)),
    ]


def test_split_at_midnight_same_day_and_two_midnights():
    day = shift("d", 0, 9, 17)
    assert m.split_at_midnight(day) == [day]
    long = shift("x", 0, 23, 1, end_day=2)
    parts = m.split_at_midnight(long)
    assert [(p.start, p.end) for p in parts] == [
        (at(0, 23), at(1, 0)), (at(1, 0), at(2, 0)), (at(2, 0), at(2, 1)),
    ]


def test_round_robin():
    slots = [(at(d, 9), at(d, 17)) for d in range(5)]
    rota = m.round_robin(slots, ["amy", "bob"])
    assert [s.employee for s in rota] == ["amy", "bob", "amy", "bob", "amy"]
    assert rota[0].start == at(0, 9) and rota[0].end == at(0, 17)
    assert rota[-1].start == at(4, 9) and rota[-1].end == at(4, 17)
    assert m.round_robin([], ["amy"]) == []


def test_round_robin_appends_and_default_not_shared():
    slot = [(at(0, 9), at(0, 17))]
    existing = [shift("zed", 6, 9, 10)]
    assert m.round_robin(slot, ["amy"], existing) is existing
    assert len(existing) == 2
    first = m.round_robin(slot, ["amy"])
    second = m.round_robin(slot, ["amy"])
    assert len(first) == 1 and len(second) == 1
