import logging
import os
import sqlite3
from datetime import date, datetime

import pytest

import module as m

TENANT = m.Actor(2)
NEIGHBOUR = m.Actor(3)
MANAGER = m.Actor(5, is_manager=True)
CONTRACTOR = m.Actor(7)
OTHER_CONTRACTOR = m.Actor(8)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
MONDAY = date(2024, 6, 3)


@pytest.fixture
def conn():
    db = sqlite3.connect(":memory:")
    db.executescript(
        "CREATE TABLE units (id INTEGER PRIMARY KEY, rent_cents INT);"
        "CREATE TABLE leases (id INTEGER PRIMARY KEY, unit_id INT, tenant_id INT);"
        "CREATE TABLE requests (id INTEGER PRIMARY KEY, unit_id INT, tenant_id INT, title TEXT, priority TEXT, status TEXT, raised_at TEXT);"
        "CREATE TABLE jobs (id INTEGER PRIMARY KEY, request_id INT, contractor_id INT, due TEXT, status TEXT, closed_at TEXT, credit_cents INT);"
    )
    db.executemany("INSERT INTO units VALUES (?, ?)", [(1, 120_000), (2, 93_000)])
    db.executemany("INSERT INTO leases VALUES (?, ?, ?)", [(1, 1, 2), (2, 2, 3)])
    db.executemany("INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [(1, 1, 2, "Leaking kitchen tap", "routine", "open", "2024-06-03T09:00:00"),
                    (2, 2, 3, "Broken heating", "urgent", "assigned", "2024-06-06T10:00:00"),
                    (3, 1, 2, "Boiler flooding the hallway", "emergency", "assigned", "2024-06-03T08:00:00")])
    db.executemany("INSERT INTO jobs (id, request_id, contractor_id, due, status) VALUES (?, ?, ?, ?, ?)",
                   [(1, 3, 7, "2024-06-03T12:00:00", "assigned"), (2, 2, 8, "2024-06-10T17:00:00", "assigned"),
                    (3, 2, 7, "2024-05-10T17:00:00", "closed")])
    yield db
    db.close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = os.path.realpath(tmp_path / "cache")
    os.makedirs(root)
    monkeypatch.setattr(m, "CACHE_ROOT", root)
    return root


@pytest.fixture
def cdn(monkeypatch):
    fetched = []

    def fake_download(url, limit):
        fetched.append((url, limit))
        return PNG if url.endswith(".png") else JPEG

    monkeypatch.setattr(m, "_download", fake_download)
    return fetched


def test_business_days():
    assert m.is_business_day(MONDAY) and m.is_business_day(date(2024, 6, 7))
    assert not m.is_business_day(date(2024, 6, 8)) and not m.is_business_day(date(2024, 6, 9))
    assert not m.is_business_day(MONDAY, frozenset({MONDAY}))


def test_business_days_between_counts_after_start_up_to_end():
    assert m.business_days_between(MONDAY, date(2024, 6, 10)) == 5
    assert m.business_days_between(MONDAY, MONDAY) == 0
    assert m.business_days_between(MONDAY, date(2024, 6, 4)) == 1
    assert m.business_days_between(date(2024, 6, 7), date(2024, 6, 10)) == 1
    assert m.business_days_between(date(2024, 6, 7), date(2024, 6, 10), frozenset({date(2024, 6, 10)})) == 0
    assert m.business_days_between(date(2024, 6, 10), MONDAY) == 0


def test_sla_deadlines_by_priority():
    assert m.sla_deadline(datetime(2024, 6, 3, 10, 0), "emergency") == datetime(2024, 6, 3, 14, 0)
    assert m.sla_deadline(datetime(2024, 6, 6, 10, 0), "urgent") == datetime(2024, 6, 10, 17, 0)
    assert m.sla_deadline(datetime(2024, 6, 3, 10, 0), "routine") == datetime(2024, 6, 17, 17, 0)
    assert m.sla_deadline(datetime(2024, 6, 6, 10, 0), "urgent", frozenset({date(2024, 6, 7)})) == datetime(2024, 6, 11, 17, 0)
    assert m.sla_deadline(datetime(2024, 6, 8, 10, 0), "urgent") == datetime(2024, 6, 11, 17, 0)


def test_rent_credit():
    assert m.rent_credit_cents(300_000, 0, 30, "routine") == 0
    assert m.rent_credit_cents(300_000, -2, 30, "routine") == 0
    assert m.rent_credit_cents(300_000, 1, 30, "routine") == 10_000
    assert m.rent_credit_cents(300_000, 3, 30, "urgent") == 30_000
    assert m.rent_credit_cents(300_000, 3, 30, "emergency") == 60_000
    assert m.rent_credit_cents(300_000, 15, 30, "routine") == 150_000
    assert m.rent_credit_cents(300_000, 20, 30, "routine") == 150_000
    assert m.rent_credit_cents(300_000, 8, 30, "emergency") == 150_000
    assert m.rent_credit_cents(100_000, 1, 30, "routine") == 3_333
    assert m.rent_credit_cents(310_000, 1, 31, "routine") == 10_000


def test_import_photo_from_the_cdn(cdn):
    assert m.import_photo("https://photos.landlord-cdn.example/u1/leak.jpg") == JPEG
    assert m.import_photo("https://img.landlord-cdn.example/u1/leak.png") == PNG
    assert cdn == [("https://photos.landlord-cdn.example/u1/leak.jpg", m.MAX_PHOTO_BYTES),
                   ("https://img.landlord-cdn.example/u1/leak.png", m.MAX_PHOTO_BYTES)]


def test_import_photo_refusals(cdn, monkeypatch, caplog):
    with caplog.at_level(logging.INFO, logger="maintenance.audit"):
        with pytest.raises(ValueError):
            m.import_photo("https://evil.example/leak.jpg")
    assert caplog.messages == ["photo import refused for 'https://evil.example/leak.jpg': not a CDN host"]
    assert cdn == []
    for url in ("http://photos.landlord-cdn.example/leak.jpg", "ftp://photos.landlord-cdn.example/leak.jpg",
                "file://photos.landlord-cdn.example/etc/passwd"):
        with pytest.raises(ValueError):
            m.import_photo(url)
    assert cdn == []
    monkeypatch.setattr(m, "_download", lambda url, limit: b"GIF89a" + b"\x00" * 10)
    with pytest.raises(ValueError):
        m.import_photo("https://photos.landlord-cdn.example/a.gif")


def test_import_photo_size_limit(monkeypatch):
    monkeypatch.setattr(m, "MAX_PHOTO_BYTES", 32)
    monkeypatch.setattr(m, "_download", lambda url, limit: (JPEG * 4)[: limit + 1])
    with pytest.raises(ValueError):
        m.import_photo("https://photos.landlord-cdn.example/big.jpg")
    monkeypatch.setattr(m, "_download", lambda url, limit: (JPEG * 4)[:limit])
    assert len(m.import_photo("https://photos.landlord-cdn.example/ok.jpg")) == 32


def test_cache_path(cache):
    assert m.cache_path(4, "leak.jpg") == os.path.join(cache, "4", "leak.jpg")
    for name in ("../5/leak.jpg", "", "../../etc/passwd"):
        with pytest.raises(ValueError):
            m.cache_path(4, name)


def test_refused_attachment_paths_are_logged(conn, cache, caplog):
    with caplog.at_level(logging.INFO, logger="maintenance.audit"):
        with pytest.raises(ValueError):
            m.cache_path(4, "../5/x.jpg")
        with pytest.raises(ValueError):
            m.read_attachment(conn, TENANT, 1, "../3/\nx.jpg")
    assert caplog.messages == ["attachment name '../5/x.jpg' refused for request 4",
                               "attachment read '../3/\\nx.jpg' refused for tenant 2"]


def test_get_request(conn):
    assert m.get_request(conn, TENANT, 1) == (1, 1, "Leaking kitchen tap", "routine", "open")
    assert m.get_request(conn, NEIGHBOUR, 1) is None


def test_raise_request(conn, caplog):
    with caplog.at_level(logging.INFO, logger="maintenance.audit"):
        request_id = m.raise_request(conn, TENANT, 1, "Mould in bathroom", "routine", datetime(2024, 6, 4, 9, 30))
    assert request_id == 4
    assert conn.execute("SELECT unit_id, tenant_id, title, priority, status, raised_at FROM requests WHERE id = 4").fetchone() == \
        (1, 2, "Mould in bathroom", "routine", "open", "2024-06-04T09:30:00")
    assert caplog.messages == ["tenant 2 raised request 4: 'Mould in bathroom'"]
    with pytest.raises(PermissionError):
        m.raise_request(conn, NEIGHBOUR, 1, "x", "routine", datetime(2024, 6, 4))
    with pytest.raises(ValueError):
        m.raise_request(conn, TENANT, 1, "x", "whenever", datetime(2024, 6, 4))
    assert m.raise_request(conn, TENANT, 1, "Gas smell", "emergency", datetime(2024, 6, 4)) == 5
    assert m.raise_request(conn, NEIGHBOUR, 2, "Door lock", "urgent", datetime(2024, 6, 4)) == 6


def test_audit_log_keeps_tenant_text_on_one_line(conn, caplog):
    with caplog.at_level(logging.INFO, logger="maintenance.audit"):
        m.raise_request(conn, TENANT, 1, "tap\nINFO admin granted", "routine", datetime(2024, 6, 4))
    assert caplog.messages == ["tenant 2 raised request 4: 'tap\\nINFO admin granted'"]


def test_attach_and_read_photos(conn, cache, cdn):
    path = m.attach_photo(conn, TENANT, 1, "https://photos.landlord-cdn.example/u1/leak.jpg?w=800")
    assert path == os.path.join(cache, "1", "leak.jpg")
    assert m.read_attachment(conn, TENANT, 1, "leak.jpg") == JPEG
    with pytest.raises(LookupError):
        m.read_attachment(conn, NEIGHBOUR, 1, "leak.jpg")
    with pytest.raises(LookupError):
        m.attach_photo(conn, NEIGHBOUR, 1, "https://photos.landlord-cdn.example/u1/x.jpg")
    with pytest.raises(ValueError):
        m.attach_photo(conn, TENANT, 1, "https://photos.landlord-cdn.example/u1/")
    assert len(cdn) == 1


def test_read_attachment_stays_in_the_request_folder(conn, cache):
    os.makedirs(os.path.join(cache, "3"))
    os.makedirs(os.path.join(cache, "1"))
    with open(os.path.join(cache, "3", "boiler.jpg"), "wb") as handle:
        handle.write(JPEG)
    assert m.read_attachment(conn, TENANT, 3, "boiler.jpg") == JPEG
    with pytest.raises(ValueError):
        m.read_attachment(conn, TENANT, 1, "../3/boiler.jpg")


def test_search_requests(conn):
    assert m.search_requests(conn, TENANT, "tap") == [(1, "Leaking kitchen tap")]
    assert m.search_requests(conn, TENANT, "BOILER tap") == [(3, "Boiler flooding the hallway"), (1, "Leaking kitchen tap")]
    assert m.search_requests(conn, TENANT, "heating") == []
    assert m.search_requests(conn, TENANT, "  ") == []
    assert m.search_requests(conn, TENANT, "tap.") == []
    assert m.search_requests(conn, NEIGHBOUR, "heating") == [(2, "Broken heating")]


def test_assign_job(conn):
    due = m.assign_job(conn, MANAGER, 1, 7)
    assert due == datetime(2024, 6, 17, 17, 0)
    assert conn.execute("SELECT request_id, contractor_id, due, status FROM jobs WHERE id = 4").fetchone() == \
        (1, 7, "2024-06-17T17:00:00", "assigned")
    assert conn.execute("SELECT status FROM requests WHERE id = 1").fetchone() == ("assigned",)
    with pytest.raises(ValueError):
        m.assign_job(conn, MANAGER, 1, 8)
    with pytest.raises(PermissionError):
        m.assign_job(conn, TENANT, 1, 7)


def test_assign_job_counts_holidays(conn):
    assert m.assign_job(conn, MANAGER, 1, 7, frozenset({date(2024, 6, 17)})) == datetime(2024, 6, 18, 17, 0)


def test_contractor_jobs(conn):
    assert m.contractor_jobs(conn, CONTRACTOR) == [(1, 3, "2024-06-03T12:00:00")]
    assert m.contractor_jobs(conn, CONTRACTOR, "closed") == [(3, 2, "2024-05-10T17:00:00")]
    assert m.contractor_jobs(conn, OTHER_CONTRACTOR) == [(2, 2, "2024-06-10T17:00:00")]
    m.assign_job(conn, MANAGER, 1, 7)
    assert [job[0] for job in m.contractor_jobs(conn, CONTRACTOR)] == [1, 4]


def test_close_job_late_earns_a_credit(conn, caplog):
    with caplog.at_level(logging.INFO, logger="maintenance.audit"):
        credit = m.close_job(conn, CONTRACTOR, 1, "replaced valve", datetime(2024, 6, 5, 9, 0))
    assert credit == 16_000  # two business days late, emergency: 2 x 2 x 120000 // 30
    assert conn.execute("SELECT status, closed_at, credit_cents FROM jobs WHERE id = 1").fetchone() == \
        ("closed", "2024-06-05T09:00:00", 16_000)
    assert conn.execute("SELECT status FROM requests WHERE id = 3").fetchone() == ("closed",)
    assert caplog.messages == ["contractor 7 closed job 1 (credit 16000 to tenant 2): 'replaced valve'"]
    with pytest.raises(LookupError):
        m.close_job(conn, CONTRACTOR, 1, "again", datetime(2024, 6, 5, 10, 0))


def test_close_job_on_time_and_refusals(conn):
    assert m.close_job(conn, OTHER_CONTRACTOR, 2, "bled radiators", datetime(2024, 6, 10, 16, 0)) == 0
    with pytest.raises(LookupError):
        m.close_job(conn, CONTRACTOR, 2, "not mine", datetime(2024, 6, 10, 16, 0))
    with pytest.raises(LookupError):
        m.close_job(conn, CONTRACTOR, 3, "already closed", datetime(2024, 6, 10, 16, 0))


def test_close_job_routine_credit_in_a_31_day_month(conn):
    conn.execute("INSERT INTO jobs (id, request_id, contractor_id, due, status) VALUES (9, 1, 7, '2024-07-01T17:00:00', 'assigned')")
    assert m.close_job(conn, CONTRACTOR, 9, "fixed", datetime(2024, 7, 4, 12, 0)) == 3 * (120_000 // 31)


def test_post_login_redirect():
    assert m.post_login_redirect("/requests/4", "ann") == "/requests/4"
    assert m.post_login_redirect("https://portal.landlord.example/requests", "ann") == "https://portal.landlord.example/requests"
    assert m.post_login_redirect("https://evil.example/", "ann") == "/requests"
    assert m.post_login_redirect("//evil.example/", "ann") == "/requests"
    assert m.post_login_redirect("/\\evil.example", "ann") == "/requests"
    assert m.post_login_redirect("javascript:alert(1)", "ann") == "/requests"
    assert m.post_login_redirect("http://portal.landlord.example/", "ann") == "/requests"


def test_post_login_redirect_logs_refusals(caplog):
    with caplog.at_level(logging.INFO, logger="maintenance.audit"):
        m.post_login_redirect("https://evil.example/", "ann")
        m.post_login_redirect("/requests/1", "ann")
    assert caplog.messages == ["post-login redirect to 'https://evil.example/' refused for 'ann'"]
