from datetime import date, timedelta

import module as m

START = date(2023, 1, 1)
TODAY = date(2024, 1, 10)


def van(plate="V1", km=20_000, last=None, in_shop=False):
    if last is None:
        last = {"oil": (10_000, date(2023, 6, 1)), "brakes": (0, START)}
    return m.Vehicle(plate, km, START, dict(last), in_shop)


def fresh(plate, km=100, serviced=TODAY):
    """A vehicle with every service just done."""
    return m.Vehicle(plate, km, START, {k: (km, serviced) for k in m.SERVICE_KM})


def test_km_left():
    v = van()
    assert m.km_left(v, "oil") == 5_000
    assert m.km_left(v, "brakes") == 10_000
    assert m.km_left(v, "tires") == 20_000
    assert m.km_left(v, "inspection") is None
    assert m.km_left(van(km=26_000), "oil") == -1_000


def test_due_date():
    v = van()
    assert m.due_date(v, "oil") == date(2024, 5, 31)
    assert m.due_date(v, "brakes") == date(2024, 12, 31)
    assert m.due_date(v, "tires") == date(2026, 12, 31)
    assert m.due_date(v, "inspection") == date(2024, 1, 1)


def test_status_by_date():
    assert m.status(van(), "inspection", TODAY) == "overdue"
    assert m.status(van(), "inspection", date(2024, 1, 1)) == "soon"
    assert m.status(van(), "inspection", date(2024, 1, 2)) == "overdue"
    assert m.status(van(), "inspection", date(2023, 12, 2)) == "soon"
    assert m.status(van(), "inspection", date(2023, 12, 1)) == "ok"
    assert m.status(van(), "oil", date(2024, 5, 1)) == "soon"
    assert m.status(van(), "oil", date(2024, 4, 30)) == "ok"


def test_status_by_distance():
    assert m.status(van(km=25_000), "oil", TODAY) == "overdue"
    assert m.status(van(km=24_999), "oil", TODAY) == "soon"
    assert m.status(van(km=24_000), "oil", TODAY) == "soon"
    assert m.status(van(km=23_999), "oil", TODAY) == "ok"
    assert m.status(van(km=30_000), "brakes", TODAY) == "overdue"
    assert m.status(van(km=29_500), "tires", TODAY) == "ok"
    assert m.status(van(km=39_500), "tires", TODAY) == "soon"


def test_services_needed_order_and_soon():
    v = van(km=29_500)
    assert m.services_needed(v, TODAY) == ["oil", "inspection"]
    assert m.services_needed(v, TODAY, include_soon=True) == ["oil", "brakes", "inspection"]
    assert m.services_needed(fresh("F"), TODAY) == []
    assert m.services_needed(fresh("F"), TODAY, include_soon=True) == []


def test_record_service():
    v = van(km=26_000)
    m.record_service(v, ["oil", "inspection"], TODAY)
    assert v.last_service["oil"] == (26_000, TODAY)
    assert v.last_service["inspection"] == (26_000, TODAY)
    assert v.last_service["brakes"] == (0, START)
    assert m.services_needed(v, TODAY) == []
    m.record_service(v, [], TODAY)
    assert len(v.last_service) == 3


def test_overdue_plates():
    fleet = [van("A"), fresh("B"), van("C", in_shop=True), van("D", km=30_000)]
    assert m.overdue_plates(fleet, TODAY) == ["A", "D"]
    assert m.overdue_plates([], TODAY) == []
    assert m.overdue_plates([fresh("B")], TODAY) == []


def test_pick_available():
    fleet = [van("A"), fresh("B"), fresh("C"), fresh("D", km=5)]
    fleet[2].in_shop = True
    assert m.pick_available(fleet, TODAY, 1) == ["B"]
    assert m.pick_available(fleet, TODAY, 2) == ["B", "D"]
    assert m.pick_available(fleet, TODAY, 3) is None
    assert m.pick_available([], TODAY, 1) is None


def test_service_cost():
    assert m.service_cost(1.5) == 14_250
    assert m.service_cost(1.5) == 14_250
    assert m.service_cost(0, [1_000, 250]) == 1_250
    assert m.service_cost(1.5, [1_000, 250]) == 15_500
    assert m.service_cost(1.5, [1_000, 250], 10) == 13_950
    assert m.service_cost(1.5, discount_pct=15) == 12_113
    assert m.service_cost(2, [100], 100) == 0
    assert isinstance(m.service_cost(1.5, discount_pct=15), int)


def test_km_per_day():
    day0 = date(2024, 3, 1)
    assert m.km_per_day([(day0, 1_000), (day0 + timedelta(days=10), 1_995)]) == 99
    log = [(day0, 1_000), (day0 + timedelta(days=3), 1_200), (day0 + timedelta(days=4), 1_400)]
    assert m.km_per_day(log) == 100
    assert m.km_per_day([(day0, 1_000)]) == 0
    assert m.km_per_day([]) == 0
    assert m.km_per_day([(day0, 1_000), (day0, 1_300)]) == 0
    assert m.km_per_day([(day0, 0), (day0 + timedelta(days=1), 250)]) == 250


def test_fuel_per_100km():
    assert m.fuel_per_100km(45, 600) == 7.5
    assert m.fuel_per_100km(5, 0) == 0.0
    assert m.fuel_per_100km(5, -3) == 0.0
    assert m.fuel_per_100km(0.05, 1) == 5.0
    assert m.fuel_per_100km(1, 3) == 1 / 3 * 100
