import base64
import hashlib
import hmac
import json
import logging
import os
import sqlite3
from datetime import date

os.environ.setdefault("CRM_MAIL_WEBHOOK_SECRET", "test-mail-secret")
os.environ.setdefault("CRM_QUOTE_SECRET", "test-quote-secret")

import pytest

import module as m

REP = m.Actor(2)
OTHER_REP = m.Actor(3)
MANAGER = m.Actor(9, is_manager=True)
TODAY = date(2024, 3, 15)  # fiscal 2025, first quarter (February to April)
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
DEAL_ROWS = [
    # id, owner, account, name, amount, stage, close date, created, closed, next step, override
    (1, 2, 1, "Acme renewal", 1_200_000, "negotiation", "2024-04-20", "2024-02-10", None, "send contract", None),
    (2, 2, 1, "Acme upsell", 400_000, "proposal", "2024-03-30", "2023-12-01", None, "demo", None),
    (3, 2, 2, "Globex pilot", 250_000, "qualified", "2024-06-15", "2023-11-20", None, "call", None),
    (4, 2, 2, "Globex seats", 900_000, "won", "2024-02-28", "2023-10-01", "2024-02-27", None, None),
    (5, 3, 3, "Initech", 700_000, "negotiation", "2024-04-02", "2024-03-01", None, "pricing", None),
    (6, 3, 3, "Initech lost", 300_000, "lost", "2024-03-01", "2023-09-01", "2024-03-02", None, None),
]


@pytest.fixture
def conn():
    db = sqlite3.connect(":memory:")
    db.executescript(
        "CREATE TABLE deals (id INTEGER PRIMARY KEY, owner_id INT, account_id INT, name TEXT, amount_cents INT, stage TEXT,"
        " close_date TEXT, created_on TEXT, closed_on TEXT, next_step TEXT, forecast_override TEXT);"
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner_id INT, name TEXT, website TEXT, industry TEXT, price_tier TEXT, logo BLOB);"
        "CREATE TABLE activities (deal_id INT, rep_id INT, kind TEXT, body TEXT, at REAL);"
        "CREATE TABLE reps (id INTEGER PRIMARY KEY, active INT);"
        "CREATE TABLE contacts (email TEXT, email_status TEXT);"
    )
    db.executemany("INSERT INTO deals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", DEAL_ROWS)
    db.executemany("INSERT INTO accounts (id, owner_id, name, website, industry, price_tier) VALUES (?, ?, ?, ?, ?, ?)",
                   [(1, 2, "Acme", "acme.example", "manufacturing", "volume"), (2, 2, "Globex", "globex.example", "energy", "partner"),
                    (3, 3, "Initech", "initech.example", "software", "list")])
    db.executemany("INSERT INTO reps VALUES (?, ?)", [(2, 1), (3, 1), (4, 0)])
    db.executemany("INSERT INTO contacts VALUES (?, ?)", [("ann@acme.example", "ok"), ("bob@globex.example", "ok")])
    yield db
    db.close()


def deal(stage="proposal", amount=100_000, close="2024-04-10", created="2024-03-01", closed=None, override=None, owner=2):
    return {"owner_id": owner, "amount_cents": amount, "stage": stage, "close_date": date.fromisoformat(close),
            "created_on": date.fromisoformat(created), "closed_on": closed and date.fromisoformat(closed), "forecast_override": override}


def column(db, deal_id, name):
    return db.execute(f"SELECT {name} FROM deals WHERE id = ?", (deal_id,)).fetchone()[0]


def test_weighted_value_rounds_half_up():
    assert m.weighted_value(deal("negotiation", 1_200_000)) == 900_000
    assert m.weighted_value(deal("qualified", 250_000)) == 62_500
    assert m.weighted_value(deal("prospect", 15)) == 2
    assert m.weighted_value(deal("prospect", 25)) == 3
    assert m.weighted_value(deal("prospect", 14)) == 1
    assert m.weighted_value(deal("won", 777)) == 777
    assert m.weighted_value(deal("lost", 777)) == 0


def test_weighted_pipeline_counts_open_deals_only():
    deals = [deal("negotiation", 1000), deal("proposal", 1000), deal("won", 5000), deal("lost", 5000), deal("prospect", 1000)]
    assert m.weighted_pipeline(deals) == 750 + 500 + 100
    assert m.weighted_pipeline([deal("won", 5000)]) == 0
    assert m.weighted_pipeline([]) == 0


def test_fiscal_quarters_start_in_february():
    assert m.fiscal_quarter(date(2024, 1, 31)) == (2024, 4)
    assert m.fiscal_quarter(date(2024, 2, 1)) == (2025, 1)
    assert m.fiscal_quarter(date(2024, 4, 30)) == (2025, 1)
    assert m.fiscal_quarter(date(2024, 5, 1)) == (2025, 2)
    assert m.fiscal_quarter(date(2024, 7, 31)) == (2025, 2)
    assert m.fiscal_quarter(date(2024, 8, 1)) == (2025, 3)
    assert m.fiscal_quarter(date(2024, 10, 31)) == (2025, 3)
    assert m.fiscal_quarter(date(2024, 11, 1)) == (2025, 4)
    assert m.fiscal_quarter(date(2024, 12, 31)) == (2025, 4)


def test_quota_attainment_per_quarter():
    deals = [
        deal("lost", 400_000, closed="2024-02-05"),
        deal("won", 600_000, closed="2024-03-01"),
        deal("won", 300_000, closed="2024-04-30"),
        deal("won", 500_000, closed="2024-05-02"),
        deal("won", 999_999, closed="2024-01-31"),  # the previous fiscal year
        deal("lost", 400_000, closed="2024-03-05"),
        deal("negotiation", 800_000),
    ]
    quotas = {1: 1_000_000, 2: 2_000_000, 3: 1_000_000}
    assert m.quota_attainment(deals, quotas, 2025) == {1: 90.0, 2: 25.0, 3: 0.0}
    assert m.quota_attainment(deals, {4: 1_000_000}, 2024) == {4: 100.0}
    assert m.quota_attainment(deals, {1: 0, 2: 1_500_000}, 2025) == {2: 33.3}
    assert m.quota_attainment(deals, {2: 1_000_000}, 2025) == {2: 50.0}


def test_commission_below_the_floor_is_nothing():
    assert m.commission_cents(499_999, 1_000_000) == 0
    assert m.commission_cents(500_000, 1_000_000) == 40_000
    assert m.commission_cents(0, 1_000_000) == 0
    with pytest.raises(ValueError):
        m.commission_cents(100, 0)


def test_commission_tiers_are_marginal():
    assert m.commission_cents(1_000_000, 1_000_000) == 80_000
    assert m.commission_cents(1_200_000, 1_000_000) == 80_000 + 24_000
    assert m.commission_cents(1_500_000, 1_000_000) == 80_000 + 60_000
    assert m.commission_cents(2_000_000, 1_000_000) == 80_000 + 60_000 + 75_000
    assert m.commission_cents(1_000_099, 1_000_000) == 80_000 + 11  # each slice floored to the cent
    assert m.commission_cents(700_012, 1_000_000) == 56_000
    assert m.commission_cents(2_000_000, 1_000_001) == 80_000 + 60_000 + 74_999
    assert isinstance(m.commission_cents(1_600_000, 1_000_001), int)  # whole cents, never a float


def test_ageing_buckets_and_their_boundaries():
    today = date(2024, 6, 30)
    assert m.ageing_bucket(today, today) == "0-30"
    assert m.ageing_bucket(date(2024, 5, 31), today) == "0-30"
    assert m.ageing_bucket(date(2024, 5, 30), today) == "31-60"
    assert m.ageing_bucket(date(2024, 5, 1), today) == "31-60"
    assert m.ageing_bucket(date(2024, 4, 30), today) == "61-90"
    assert m.ageing_bucket(date(2024, 4, 1), today) == "61-90"
    assert m.ageing_bucket(date(2024, 3, 31), today) == "over 90"
    assert m.ageing_bucket(date(2022, 1, 1), today) == "over 90"


def test_forecast_categories():
    assert m.forecast_category(deal("negotiation"), TODAY) == "commit"
    assert m.forecast_category(deal("proposal"), TODAY) == "best_case"
    assert m.forecast_category(deal("qualified"), TODAY) == "pipeline"
    assert m.forecast_category(deal("prospect"), TODAY) == "pipeline"
    assert m.forecast_category(deal("won", closed="2024-03-01"), TODAY) == "closed"
    assert m.forecast_category(deal("won", close="2024-01-01"), TODAY) == "closed"
    assert m.forecast_category(deal("lost"), TODAY) == "omitted"


def test_forecast_dates_and_overrides():
    assert m.forecast_category(deal("negotiation", close="2024-03-14"), TODAY) == "omitted"
    assert m.forecast_category(deal("negotiation", close="2024-03-15"), TODAY) == "commit"
    assert m.forecast_category(deal("negotiation", close="2024-04-30"), TODAY) == "commit"
    assert m.forecast_category(deal("negotiation", close="2024-05-01"), TODAY) == "pipeline"
    assert m.forecast_category(deal("proposal", close="2025-03-01"), TODAY) == "pipeline"
    assert m.forecast_category(deal("qualified", override="commit"), TODAY) == "commit"
    assert m.forecast_category(deal("negotiation", override="omitted"), TODAY) == "omitted"


def test_reps_see_their_own_deals_and_accounts(conn):
    own = m.get_deal(conn, REP, 1)
    assert own["name"] == "Acme renewal" and own["close_date"] == date(2024, 4, 20) and own["closed_on"] is None
    assert m.get_deal(conn, REP, 4)["closed_on"] == date(2024, 2, 27)
    assert m.get_deal(conn, REP, 5) is None
    assert m.get_deal(conn, OTHER_REP, 5)["amount_cents"] == 700_000
    assert m.get_account(conn, REP, 2) == {"id": 2, "owner_id": 2, "name": "Globex", "website": "globex.example",
                                           "industry": "energy", "price_tier": "partner"}
    assert m.get_account(conn, REP, 3) is None
    with pytest.raises(LookupError):
        m.load_deal(conn, 99)


def test_update_deal_takes_allowed_fields(conn):
    updated = m.update_deal(conn, REP, 1, {"amount_cents": 1_500_000, "next_step": "legal review", "close_date": "2024-04-25",
                                           "forecast_override": "commit", "owner_id": 3}, TODAY)
    assert updated["amount_cents"] == 1_500_000 and updated["close_date"] == date(2024, 4, 25)
    assert conn.execute("SELECT owner_id, amount_cents, stage, close_date, closed_on, next_step, forecast_override FROM deals WHERE id = 1").fetchone() == (
        2, 1_500_000, "negotiation", "2024-04-25", None, "legal review", None)
    m.update_deal(conn, REP, 3, {"stage": "proposal", "name": "Globex pilot, phase 1"}, TODAY)
    assert (column(conn, 3, "stage"), column(conn, 3, "name"), column(conn, 3, "amount_cents")) == ("proposal", "Globex pilot, phase 1", 250_000)


def test_moving_a_deal_to_won_or_lost_closes_it_today(conn):
    assert m.update_deal(conn, REP, 2, {"stage": "won"}, TODAY)["closed_on"] == TODAY
    assert column(conn, 2, "closed_on") == "2024-03-15"
    m.update_deal(conn, REP, 3, {"stage": "lost"}, TODAY)
    assert (column(conn, 3, "stage"), column(conn, 3, "closed_on")) == ("lost", "2024-03-15")
    m.update_deal(conn, REP, 1, {"stage": "proposal"}, TODAY)
    assert column(conn, 1, "closed_on") is None


def test_update_deal_refusals(conn):
    with pytest.raises(PermissionError):
        m.update_deal(conn, OTHER_REP, 1, {"amount_cents": 1}, TODAY)
    with pytest.raises(ValueError):
        m.update_deal(conn, REP, 4, {"next_step": "upsell"}, TODAY)
    with pytest.raises(ValueError):
        m.update_deal(conn, REP, 1, {"stage": "signed"}, TODAY)
    with pytest.raises(ValueError):
        m.update_deal(conn, REP, 1, {"amount_cents": 0}, TODAY)
    with pytest.raises(ValueError):
        m.update_deal(conn, REP, 1, {"close_date": "next week"}, TODAY)
    assert column(conn, 1, "amount_cents") == 1_200_000
    m.update_deal(conn, REP, 1, {"amount_cents": 1}, TODAY)
    assert column(conn, 1, "amount_cents") == 1


def test_update_deal_audit_line_escapes_the_next_step(conn, caplog):
    with caplog.at_level(logging.INFO, logger="crm.audit"):
        m.update_deal(conn, REP, 1, {"next_step": "call\nback"}, TODAY)
    assert caplog.messages == ["deal 1 edited by rep 2, next step 'call\\nback'"]


def test_notes(conn, caplog):
    with caplog.at_level(logging.INFO, logger="crm.audit"):
        m.add_note(conn, REP, 2, "asked for a discount\r\n" + "x" * 3000, 1000.0)
    assert caplog.messages[0].startswith("rep 2 noted on deal 2: 'asked for a discount\\r\\nxxx")
    body, rep, kind = conn.execute("SELECT body, rep_id, kind FROM activities WHERE deal_id = 2").fetchone()
    assert (len(body), rep, kind) == (m.MAX_NOTE_CHARS, 2, "note")
    with pytest.raises(PermissionError):
        m.add_note(conn, OTHER_REP, 2, "hi", 1000.0)
    assert conn.execute("SELECT COUNT(*) FROM activities").fetchone()[0] == 1


def test_reassign_deal(conn):
    m.reassign_deal(conn, MANAGER, 1, 3)
    assert column(conn, 1, "owner_id") == 3
    with pytest.raises(LookupError):
        m.reassign_deal(conn, MANAGER, 2, 4)  # rep 4 has left
    with pytest.raises(LookupError):
        m.reassign_deal(conn, MANAGER, 99, 3)
    with pytest.raises(PermissionError):
        m.reassign_deal(conn, REP, 5, 2)
    assert (column(conn, 2, "owner_id"), column(conn, 5, "owner_id")) == (2, 3)


def test_override_forecast(conn):
    m.override_forecast(conn, MANAGER, 3, "best_case")
    assert column(conn, 3, "forecast_override") == "best_case"
    m.override_forecast(conn, MANAGER, 3, None)
    assert column(conn, 3, "forecast_override") is None
    with pytest.raises(ValueError):
        m.override_forecast(conn, MANAGER, 3, "sure thing")
    with pytest.raises(PermissionError):
        m.override_forecast(conn, REP, 3, "commit")
    assert column(conn, 3, "forecast_override") is None


def test_export_pipeline(conn):
    rows = m.export_pipeline(conn, MANAGER, TODAY)
    assert [row["id"] for row in rows] == [2, 5, 1, 3]
    assert rows[0] == {"id": 2, "owner_id": 2, "name": "Acme upsell", "amount_cents": 400_000, "weighted_cents": 200_000,
                       "forecast": "best_case", "age": "over 90"}
    assert [(row["forecast"], row["age"], row["weighted_cents"]) for row in rows[1:]] == [
        ("commit", "0-30", 525_000), ("commit", "31-60", 900_000), ("pipeline", "over 90", 62_500)]
    with pytest.raises(PermissionError):
        m.export_pipeline(conn, REP, TODAY)


def test_quote_link_round_trip_with_tier_discounts(conn):
    link = m.quote_link(conn, REP, 1, 1000.0)
    assert link.startswith("https://crm.salesdesk.example/quotes/")
    token = link.rsplit("/", 1)[1]
    assert m.open_quote(conn, token, 1000.0 + m.QUOTE_TTL - 1) == {
        "deal": "Acme renewal", "list_cents": 1_200_000, "discount_cents": 120_000, "total_cents": 1_080_000}
    globex = m.open_quote(conn, m.quote_link(conn, REP, 3, 1000.0).rsplit("/", 1)[1], 1000.0)
    assert (globex["discount_cents"], globex["total_cents"]) == (50_000, 200_000)
    initech = m.open_quote(conn, m.quote_link(conn, OTHER_REP, 5, 1000.0).rsplit("/", 1)[1], 1000.0)
    assert (initech["discount_cents"], initech["total_cents"]) == (0, 700_000)
    with pytest.raises(LookupError):
        m.quote_link(conn, OTHER_REP, 1, 1000.0)


def test_quote_links_expire_and_are_signed(conn):
    token = m.quote_link(conn, REP, 1, 1000.0).rsplit("/", 1)[1]
    with pytest.raises(PermissionError):
        m.open_quote(conn, token, 1000.0 + m.QUOTE_TTL)
    body, _, mac = token.rpartition(".")
    claims = json.loads(base64.urlsafe_b64decode(body))
    assert claims == {"deal": 1, "iat": 1000.0, "exp": 1000.0 + m.QUOTE_TTL}
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "deal": 5}).encode()).decode()
    with pytest.raises(PermissionError):
        m.open_quote(conn, f"{forged}.{mac}", 1000.0)


def signed_batch(events, timestamp):
    body = json.dumps(events)
    return body, hmac.new(b"test-mail-secret", f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def test_mail_events(conn):
    events = [{"type": "bounce", "email": "bob@globex.example"}, {"type": "open", "deal_id": 1, "email": "ann@acme.example", "at": 5.0},
              {"type": "click", "deal_id": 1, "email": "ann@acme.example", "at": 6.0}, {"type": "delivered", "email": "ann@acme.example"},
              {"type": "bounce", "email": "nobody@example.org"}]
    body, signature = signed_batch(events, 10_000)
    assert m.mail_events(conn, body, 10_000, signature, 10_000 + m.WEBHOOK_TOLERANCE) == 3
    assert conn.execute("SELECT email, email_status FROM contacts ORDER BY email").fetchall() == [
        ("ann@acme.example", "ok"), ("bob@globex.example", "bounced")]
    assert conn.execute("SELECT deal_id, rep_id, kind, body, at FROM activities").fetchall() == [
        (1, None, "open", "ann@acme.example", 5.0), (1, None, "click", "ann@acme.example", 6.0)]


def test_mail_events_refused(conn):
    body, signature = signed_batch([{"type": "bounce", "email": "ann@acme.example"}], 10_000)
    for now in (10_000 + m.WEBHOOK_TOLERANCE + 1, 10_000 - m.WEBHOOK_TOLERANCE - 1):
        with pytest.raises(ValueError):
            m.mail_events(conn, body, 10_000, signature, now)
    with pytest.raises(ValueError):
        m.mail_events(conn, body, 10_001, signature, 10_001)
    with pytest.raises(ValueError):
        m.mail_events(conn, body, 10_000, "0" * 64, 10_000)
    assert m.mail_events(conn, body, 10_000, signature, 10_000 - m.WEBHOOK_TOLERANCE) == 1
    assert conn.execute("SELECT email_status FROM contacts WHERE email = 'ann@acme.example'").fetchone() == ("bounced",)


def test_account_logo(conn):
    fetched = []
    m.set_account_logo(conn, REP, 1, "https://logos.salesdesk.example/acme.png", lambda url: fetched.append(url) or PNG)
    assert fetched == ["https://logos.salesdesk.example/acme.png"]
    assert conn.execute("SELECT logo FROM accounts WHERE id = 1").fetchone()[0] == PNG
    m.set_account_logo(conn, REP, 2, "https://assets.brandfetch.example/globex.jpg", lambda url: b"\xff\xd8\xff\xe0" + b"\0" * 10)
    for url in ("http://logos.salesdesk.example/acme.png", "https://169.254.169.254/latest/meta-data/", "https://evil.example/x.png"):
        with pytest.raises(ValueError):
            m.set_account_logo(conn, REP, 1, url, lambda url: fetched.append(url) or PNG)
    assert len(fetched) == 1
    for data in (b"<svg/>", PNG + b"\0" * m.MAX_LOGO_BYTES):
        with pytest.raises(ValueError):
            m.set_account_logo(conn, REP, 2, "https://logos.salesdesk.example/g.png", lambda url: data)
    m.set_account_logo(conn, REP, 2, "https://logos.salesdesk.example/g.png", lambda url: PNG + b"\0" * (m.MAX_LOGO_BYTES - len(PNG)))
    with pytest.raises(LookupError):
        m.set_account_logo(conn, OTHER_REP, 1, "https://logos.salesdesk.example/acme.png", lambda url: b"\x89PNG\r\n\x1a\nevil")
    assert conn.execute("SELECT logo FROM accounts WHERE id = 1").fetchone()[0] == PNG


def test_after_login_stays_on_the_app():
    assert m.after_login("/deals/7?tab=notes") == "/deals/7?tab=notes"
    assert m.after_login("https://crm.salesdesk.example/reports") == "https://crm.salesdesk.example/reports"
    assert m.after_login("  /accounts ") == "/accounts"
    for target in ("//evil.example/", "https://evil.example/", "\\\\evil.example", "javascript:alert(1)", "http://crm.salesdesk.example/"):
        assert m.after_login(target) == "/pipeline"
