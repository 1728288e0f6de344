from datetime import datetime, timedelta, timezone

import module as m

TZ = timezone(timedelta(hours=2))
LINE = '203.0.113.9 - alice [10/Oct/2023:13:55:36 +0200] "GET /api/items?page=2 HTTP/1.1" 200 2326 87'
NO_USER = '10.0.0.1 - - [10/Oct/2023:13:56:01 +0200] "POST /login HTTP/1.1" 302 -'


def entry(path="/", status=200, host="h", size=0, ms=None, minute=0):
    when = datetime(2023, 10, 10, 13, minute, 0, tzinfo=TZ)
    return m.Entry(host, None, when, "GET", path, status, size, ms)


def test_parse_access_line_all_fields():
    got = m.parse_access_line(LINE)
    when = datetime(2023, 10, 10, 13, 55, 36, tzinfo=TZ)
    assert got == m.Entry("203.0.113.9", "alice", when, "GET", "/api/items", 200, 2326, 87)


def test_parse_access_line_dashes_and_missing_timing():
    got = m.parse_access_line(NO_USER + "\n")
    assert got.user is None
    assert got.size == 0
    assert got.ms is None
    assert got.host == "10.0.0.1"
    assert got.method == "POST"
    assert got.path == "/login"
    assert got.status == 302


def test_parse_access_line_truncates_long_path():
    path = "/" + "a" * 80
    got = m.parse_access_line(f'1.2.3.4 - - [10/Oct/2023:13:55:36 +0200] "GET {path} HTTP/1.1" 404 0')
    assert got.path == path[:64]
    assert len(got.path) == 64


def test_parse_access_line_rejects_garbage():
    assert m.parse_access_line("not a log line") is None
    assert m.parse_access_line("") is None


def test_parse_kv():
    text = 'level=info msg="user logged in" user=42 user=43 bare =x empty='
    assert m.parse_kv(text) == {"level": "info", "msg": "user logged in", "user": "42", "empty": ""}
    assert m.parse_kv("") == {}
    assert m.parse_kv("a=b=c") == {"a": "b=c"}


def test_parse_lines_counts_bad_and_skips_comments():
    lines = ["# header", LINE, "", "   ", "garbage here", NO_USER, "more garbage"]
    entries, bad = m.parse_lines(lines)
    assert [e.status for e in entries] == [200, 302]
    assert bad == 2
    assert m.parse_lines([]) == ([], 0)
    assert m.parse_lines([LINE])[1] == 0


def test_status_class():
    assert m.status_class(200) == "2xx"
    assert m.status_class(404) == "4xx"
    assert m.status_class(599) == "5xx"
    assert m.status_class(301) == "3xx"


def test_error_rate():
    entries = [entry(status=500), entry(status=499), entry(status=200), entry(status=503)]
    assert m.error_rate(entries) == 0.5
    assert m.error_rate(entries[1:3]) == 0.0
    assert m.error_rate([entry(status=502), entry(), entry(), entry()]) == 0.25
    assert m.error_rate([]) == 0.0


def test_top_paths_orders_by_count_then_name():
    paths = ["/b", "/d", "/a", "/c", "/b", "/a", "/b"]
    entries = [entry(path=p) for p in paths]
    assert m.top_paths(entries) == [("/b", 3), ("/a", 2), ("/c", 1)]
    assert m.top_paths(entries, n=1) == [("/b", 3)]
    assert m.top_paths(entries, n=10) == [("/b", 3), ("/a", 2), ("/c", 1), ("/d", 1)]
    assert m.top_paths([]) == []


def test_bytes_by_host():
    entries = [entry(host="a", size=100), entry(host="b", size=5), entry(host="a", size=20)]
    assert m.bytes_by_host(entries) == {"a": 120, "b": 5}
    assert m.bytes_by_host([]) == {}


def test_p95_latency_nearest_rank():
    assert m.p95_latency([entry(ms=v) for v in range(1, 21)]) == 19
    assert m.p95_latency([entry(ms=v) for v in range(10, 0, -1)]) == 10
    assert m.p95_latency([entry(ms=7), entry()]) == 7
    assert m.p95_latency([entry()]) is None
    assert m.p95_latency([entry(ms=v) for v in range(1, 41)]) == 38


def test_first_server_error():
    entries = [entry(status=404), entry(status=500, host="x"), entry(status=503, host="y")]
    assert m.first_server_error(entries).host == "x"
    assert m.first_server_error([entry(status=499)]) is None
    assert m.first_server_error([]) is None


def test_count_sessions():
    base = datetime(2023, 10, 10, 8, 0, tzinfo=TZ)
    visits = [base + timedelta(minutes=x) for x in (95, 0, 10, 40, 71)]
    assert m.count_sessions(visits) == 2
    assert m.count_sessions(visits, gap_minutes=20) == 4
    assert m.count_sessions([base]) == 1
    assert m.count_sessions([base, base + timedelta(minutes=45)]) == 2
    assert m.count_sessions([]) == 0
