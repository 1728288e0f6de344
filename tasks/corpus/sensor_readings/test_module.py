import pytest

import module as m

R = m.Reading


def series(values, step=10):
    return [R(i * step, v) for i, v in enumerate(values)]


def test_rolling_mean():
    assert m.rolling_mean([1, 2, 3, 4], 2) == [1.5, 2.5, 3.5]
    assert m.rolling_mean([1, 2, 3, 4], 4) == [2.5]
    assert m.rolling_mean([1, 2, 3, 4], 5) == []
    assert m.rolling_mean([3, 5], 1) == [3.0, 5.0]
    assert m.rolling_mean([], 1) == []
    assert m.rolling_mean([2, 4, 6, 9], 3) == [4.0, pytest.approx(19 / 3)]


def test_rolling_mean_rejects_bad_window():
    with pytest.raises(ValueError):
        m.rolling_mean([1, 2], 0)
    with pytest.raises(ValueError):
        m.rolling_mean([1, 2], -1)


def test_valid_readings_inclusive_limits():
    temps = [R(0, -40.0), R(1, 85.0), R(2, -40.1), R(3, 85.1), R(4, 20.0)]
    assert m.valid_readings(temps, "temperature") == [R(0, -40.0), R(1, 85.0), R(4, 20.0)]
    hum = [R(0, 0.0), R(1, 100.0), R(2, -0.5), R(3, 100.5)]
    assert m.valid_readings(hum, "humidity") == [R(0, 0.0), R(1, 100.0)]
    co2 = [R(0, 249.0), R(1, 250.0), R(2, 10000.0), R(3, 10001.0)]
    assert m.valid_readings(co2, "co2") == [R(1, 250.0), R(2, 10000.0)]
    assert m.valid_readings([], "co2") == []


def test_threshold_alerts():
    readings = series([5, 11, 12, 13, 14, 2, 11, 12, 13])
    assert m.threshold_alerts(readings, 10) == [10, 60]
    assert m.threshold_alerts(readings, 10, min_run=4) == [10]
    assert m.threshold_alerts(readings, 10, min_run=5) == []
    assert m.threshold_alerts(readings, 10, min_run=1) == [10, 60]
    assert m.threshold_alerts([], 10) == []


def test_threshold_alerts_equal_value_breaks_run():
    readings = series([11, 12, 10, 13, 14, 15])
    assert m.threshold_alerts(readings, 10) == [30]
    assert m.threshold_alerts(series([11, 12]), 10) == []
    assert m.threshold_alerts(series([11, 12, 13]), 10) == [0]


def test_find_gaps():
    readings = [R(t, 1.0) for t in (0, 60, 120, 300, 361, 421)]
    assert m.find_gaps(readings, 60) == [(120, 300), (300, 361)]
    assert m.find_gaps(readings, 180) == []
    assert m.find_gaps(readings, 179) == [(120, 300)]
    assert m.find_gaps([R(0, 1.0)], 1) == []
    assert m.find_gaps([], 1) == []
    assert m.find_gaps([R(0, 1.0), R(5, 1.0)], 4) == [(0, 5)]


def test_bucket_means():
    readings = [R(125, 7.0), R(0, 1.0), R(30, 2.0), R(59, 3.0), R(60, 10.0)]
    result = m.bucket_means(readings, 60)
    assert result == {0: 2.0, 60: 10.0, 120: 7.0}
    assert list(result) == [0, 60, 120]
    assert all(isinstance(key, int) for key in result)
    assert m.bucket_means([R(0, 1.0), R(1, 2.0)], 60) == {0: 1.5}
    assert m.bucket_means([], 60) == {}


def test_uptime_percent():
    full = [R(t, 1.0) for t in range(0, 600, 60)]
    assert m.uptime_percent(full, 60, 0, 600) == 100.0
    assert m.uptime_percent(full[:5], 60, 0, 600) == 50.0
    assert m.uptime_percent(full + full, 60, 0, 600) == 100.0
    assert m.uptime_percent(full + [R(600, 1.0)], 60, 60, 660) == 100.0
    assert m.uptime_percent([R(600, 1.0)], 60, 0, 600) == 0.0
    assert m.uptime_percent([R(0, 1.0)], 60, 0, 600) == 10.0
    assert m.uptime_percent([R(0, 1.0)], 60, 0, 119) == 100.0
    assert m.uptime_percent(full, 60, 0, 59) == 0.0
    assert m.uptime_percent(full, 60, 0, 0) == 0.0


def test_rates():
    assert m.rates([R(0, 10.0), R(10, 20.0), R(30, 10.0)]) == [1.0, -0.5]
    assert m.rates([R(0, 3.0), R(4, 4.0)]) == [0.25]
    assert m.rates([R(0, 1.0)]) == []
    assert m.rates([]) == []


def test_first_at_or_above():
    readings = series([1, 5, 3, 5, 9])
    assert m.first_at_or_above(readings, 5) == R(10, 5)
    assert m.first_at_or_above(readings, 4.9) == R(10, 5)
    assert m.first_at_or_above(readings, 9) == R(40, 9)
    assert m.first_at_or_above(readings, 9.5) is None
    assert m.first_at_or_above([], 0) is None


def sample(co2=800.0, temperature=21.0, humidity=45.0):
    return {"co2": co2, "temperature": temperature, "humidity": humidity}


def test_comfort_each_rule():
    assert m.comfort(sample()) == "ok"
    assert m.comfort(sample(co2=1500)) == "ok"
    assert m.comfort(sample(co2=1501)) == "stuffy"
    assert m.comfort(sample(temperature=18)) == "ok"
    assert m.comfort(sample(temperature=17.9)) == "too cold"
    assert m.comfort(sample(temperature=26)) == "ok"
    assert m.comfort(sample(temperature=26.1)) == "too warm"
    assert m.comfort(sample(humidity=30)) == "ok"
    assert m.comfort(sample(humidity=29)) == "dry"
    assert m.comfort(sample(humidity=60)) == "ok"
    assert m.comfort(sample(humidity=61)) == "humid"


def test_comfort_priority():
    assert m.comfort(sample(co2=2000, temperature=10, humidity=90)) == "stuffy"
    assert m.comfort(sample(temperature=30, humidity=10)) == "too warm"
    assert m.comfort(sample(temperature=10, humidity=90)) == "too cold"
