import hashlib
import hmac
import json
import logging
import os
import random
from types import SimpleNamespace

import pytest

os.environ.setdefault("WEBHOOK_SIGNING_SECRET", "test-signing-secret")
os.environ.setdefault("WEBHOOK_ALLOWED_HOSTS", "hooks.partner.example,events.partner.example")

import module as m  # noqa: E402

ADMIN = SimpleNamespace(is_admin=True)
CLERK = SimpleNamespace(is_admin=False)
NOW = 1_700_000_000
ANN = m.Actor(1, tenant_id=10)
BOB = m.Actor(2, tenant_id=20)
OPS = m.Actor(3, tenant_id=10, is_admin=True)


@pytest.fixture
def db():
    conn = m.open_log()
    yield conn
    conn.close()


def row_of(db, ident):
    return db.execute("SELECT tries, state, due FROM log WHERE id = ?", (ident,)).fetchone()


def test_open_log_schema(db):
    cols = [r[1] for r in db.execute("PRAGMA table_info(log)")]
    assert cols == ["id", "url", "body", "tries", "state", "due"]


def test_endpoints_for():
    endpoints = [
        {"url": "https://a.example/hook", "events": ["order.paid", "order.refunded"]},
        {"url": "https://b.example/hook"},
        {"url": "https://c.example/hook", "events": ["*"]},
        {"url": "https://d.example/hook", "events": ["order.created"]},
    ]
    assert m.endpoints_for(endpoints, "order.paid") == [
        "https://a.example/hook", "https://b.example/hook", "https://c.example/hook",
    ]
    assert m.endpoints_for(endpoints, "order.created") == [
        "https://b.example/hook", "https://c.example/hook", "https://d.example/hook",
    ]
    assert m.endpoints_for(endpoints[:1], "user.created") == []
    assert m.endpoints_for([], "order.paid") == []


def test_parse_extra_headers():
    assert m.parse_extra_headers("{'X-Team': 'billing', 'X-Env': 'prod'}") == {
        "X-Team": "billing", "X-Env": "prod",
    }
    assert m.parse_extra_headers("{1: 'one'}") == {"1": "one"}
    assert m.parse_extra_headers("{}") == {}


def test_parse_extra_headers_rejects_non_literals_and_bad_shapes():
    with pytest.raises(ValueError):
        m.parse_extra_headers("__import__('os').getcwd()")
    with pytest.raises(ValueError):
        m.parse_extra_headers("['X-Team', 'billing']")
    with pytest.raises(ValueError):
        m.parse_extra_headers("{'X-Retries': 3}")


def test_sign_format_and_value():
    assert m.SIGNING_SECRET == os.environ["WEBHOOK_SIGNING_SECRET"]
    mac = hmac.new(m.SIGNING_SECRET.encode(), b"123.{}", hashlib.sha256).hexdigest()
    assert m.sign("{}", 123) == f"t=123,v1={mac}"
    assert m.sign("{}", 124) != m.sign("{}", 123)


def test_verify_signature_valid_and_tolerance():
    header = m.sign('{"a": 1}', NOW)
    assert m.verify_signature(header, '{"a": 1}', NOW) is True
    assert m.verify_signature(header, '{"a": 1}', NOW + 300) is True
    assert m.verify_signature(header, '{"a": 1}', NOW - 300) is True
    assert m.verify_signature(header, '{"a": 1}', NOW + 301) is False
    assert m.verify_signature(header, '{"a": 1}', NOW - 301) is False


def test_verify_signature_rejects_tampering_and_garbage():
    header = m.sign('{"a": 1}', NOW)
    assert m.verify_signature(header, '{"a": 2}', NOW) is False
    assert m.verify_signature(header.replace(f"t={NOW}", f"t={NOW + 1}"), '{"a": 1}', NOW) is False
    assert m.verify_signature("v1=abc", '{"a": 1}', NOW) is False
    assert m.verify_signature("t=abc,v1=abc", '{"a": 1}', NOW) is False
    assert m.verify_signature("", '{"a": 1}', NOW) is False


def test_retry_delay_backoff_with_jitter():
    def expect(base, seed):
        return base + random.Random(seed).uniform(0, base / 10)

    assert m.retry_delay(1, random.Random(4)) == expect(30, 4)
    assert m.retry_delay(2, random.Random(4)) == expect(60, 4)
    assert m.retry_delay(3, random.Random(4)) == expect(120, 4)
    assert m.retry_delay(7, random.Random(4)) == expect(1920, 4)
    assert m.retry_delay(8, random.Random(4)) == expect(3600, 4)


def test_retry_delay_default_rng_range():
    for _ in range(20):
        assert 60 <= m.retry_delay(2) <= 66


def test_enqueue(db):
    ident = m.enqueue(db, "https://a.example/hook", {"type": "order.paid", "id": 7}, NOW)
    assert len(ident) == 32 and int(ident, 16) >= 0
    row = db.execute("SELECT url, body, tries, state, due FROM log WHERE id = ?", (ident,)).fetchone()
    assert row == ("https://a.example/hook", '{"type": "order.paid", "id": 7}', 0, "pending", NOW)
    assert m.enqueue(db, "https://a.example/hook", {}, NOW) != ident


def test_due_deliveries_inclusive_and_ordered(db):
    late = m.enqueue(db, "https://a.example", {"n": 1}, NOW + 10)
    first = m.enqueue(db, "https://b.example", {"n": 2}, NOW - 50)
    second = m.enqueue(db, "https://c.example", {"n": 3}, NOW)
    assert m.due_deliveries(db, NOW) == [
        (first, "https://b.example", {"n": 2}), (second, "https://c.example", {"n": 3}),
    ]
    assert [d[0] for d in m.due_deliveries(db, NOW + 10)] == [first, second, late]
    assert [d[0] for d in m.due_deliveries(db, NOW + 10, limit=1)] == [first]
    assert [d[0] for d in m.due_deliveries(db, NOW + 10, limit=2)] == [first, second]
    assert m.due_deliveries(db, NOW - 51) == []


def test_due_deliveries_skip_finished(db):
    done = m.enqueue(db, "https://a.example", {}, NOW)
    waiting = m.enqueue(db, "https://b.example", {}, NOW)
    m.record_attempt(db, done, 200, NOW)
    assert [d[0] for d in m.due_deliveries(db, NOW + 10_000)] == [waiting]


def test_record_attempt_success_codes(db):
    for code in (200, 204, 299):
        ident = m.enqueue(db, "https://a.example", {}, NOW)
        assert m.record_attempt(db, ident, code, NOW, random.Random(1)) == "delivered"
        assert row_of(db, ident) == (1, "delivered", None)


def test_record_attempt_failure_schedules_retry(db):
    for code in (0, 199, 300, 404, 500):
        ident = m.enqueue(db, "https://a.example", {}, NOW)
        assert m.record_attempt(db, ident, code, NOW, random.Random(2)) == "pending"
        assert row_of(db, ident) == (1, "pending", NOW + m.retry_delay(1, random.Random(2)))


def test_record_attempt_second_failure_uses_attempt_number(db):
    ident = m.enqueue(db, "https://a.example", {}, NOW)
    m.record_attempt(db, ident, 500, NOW, random.Random(2))
    m.record_attempt(db, ident, 500, NOW + 100, random.Random(3))
    assert row_of(db, ident) == (2, "pending", NOW + 100 + m.retry_delay(2, random.Random(3)))


def test_record_attempt_gives_up_after_max_attempts(db):
    ident = m.enqueue(db, "https://a.example", {}, NOW)
    states = [m.record_attempt(db, ident, 503, NOW, random.Random(0)) for _ in range(5)]
    assert states == ["pending", "pending", "pending", "pending", "failed"]
    assert row_of(db, ident) == (5, "failed", None)


def test_record_attempt_success_on_last_try(db):
    ident = m.enqueue(db, "https://a.example", {}, NOW)
    for _ in range(4):
        m.record_attempt(db, ident, 500, NOW, random.Random(0))
    assert m.record_attempt(db, ident, 201, NOW, random.Random(0)) == "delivered"


def test_replay_delivery(db):
    ident = m.enqueue(db, "https://a.example", {"n": 1}, NOW)
    other = m.enqueue(db, "https://a.example", {"n": 2}, NOW)
    for _ in range(5):
        m.record_attempt(db, ident, 500, NOW, random.Random(0))
        m.record_attempt(db, other, 500, NOW, random.Random(0))
    with pytest.raises(PermissionError):
        m.replay_delivery(db, CLERK, ident, NOW + 60)
    assert row_of(db, ident) == (5, "failed", None)
    assert m.replay_delivery(db, ADMIN, ident, NOW + 60) is True
    assert row_of(db, ident) == (0, "pending", NOW + 60)
    assert row_of(db, other) == (5, "failed", None)
    assert [d[0] for d in m.due_deliveries(db, NOW + 60)] == [ident]


def test_replay_delivery_only_failed(db):
    pending = m.enqueue(db, "https://a.example", {}, NOW)
    delivered = m.enqueue(db, "https://a.example", {}, NOW)
    m.record_attempt(db, delivered, 200, NOW)
    assert m.replay_delivery(db, ADMIN, pending, NOW + 60) is False
    assert m.replay_delivery(db, ADMIN, delivered, NOW + 60) is False
    assert m.replay_delivery(db, ADMIN, "missing", NOW + 60) is False
    assert row_of(db, pending) == (0, "pending", NOW)
    assert row_of(db, delivered) == (1, "delivered", None)
    assert json.loads(db.execute("SELECT body FROM log WHERE id = ?", (pending,)).fetchone()[0]) == {}


@pytest.fixture
def tenants(db):
    db.executemany("INSERT INTO tenants VALUES (?, ?, ?)", [(10, "acme", "acme-secret"), (20, "globex", "globex-secret"),
                                                             (30, "initech", None)])
    return db


def signed(secret, envelope):
    raw = json.dumps(envelope)
    return raw, hmac.new(secret.encode(), raw.encode(), hashlib.sha256).hexdigest()


def test_allowed_hosts_come_from_the_environment():
    assert m.ALLOWED_HOSTS == frozenset(os.environ["WEBHOOK_ALLOWED_HOSTS"].split(","))
    assert "hooks.partner.example" in m.ALLOWED_HOSTS


def test_add_subscription_stores_sorted_event_types(db):
    first = m.add_subscription(db, ANN, "https://hooks.partner.example/acme", ["order.paid", "order.created", "order.paid"])
    second = m.add_subscription(db, BOB, "https://events.partner.example/globex", ["*"])
    assert (first, second) == (1, 2)
    assert db.execute("SELECT * FROM subscriptions ORDER BY id").fetchall() == [
        (1, 10, "https://hooks.partner.example/acme", '["order.created", "order.paid"]'),
        (2, 20, "https://events.partner.example/globex", '["*"]'),
    ]


def test_add_subscription_refusals(db, caplog):
    for url, events in [("http://hooks.partner.example/a", ["*"]), ("https://hooks.partner.example/a", []),
                        ("https://evil.example/a", ["*"]), ("https://169.254.169.254/latest", ["*"]),
                        ("https://hooks.partner.example.evil.example/a", ["*"])]:
        with pytest.raises(ValueError):
            m.add_subscription(db, ANN, url, events)
    assert db.execute("SELECT COUNT(*) FROM subscriptions").fetchone() == (0,)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="webhooks"):
        with pytest.raises(ValueError):
            m.add_subscription(db, ANN, "https://evil.example/x\nINFO forged", ["*"])
    assert caplog.messages == ["tenant 10: subscription to 'https://evil.example/x\\nINFO forged' refused, host not allowed"]


def test_subscription_lookup_is_per_tenant(db):
    own = m.add_subscription(db, ANN, "https://hooks.partner.example/acme", ["order.paid"])
    other = m.add_subscription(db, BOB, "https://hooks.partner.example/globex", ["*"])
    assert m.subscription(db, ANN, own) == {"id": own, "tenant_id": 10, "url": "https://hooks.partner.example/acme",
                                            "events": ["order.paid"]}
    assert m.subscription(db, ANN, other) is None
    assert m.subscription(db, BOB, other)["url"] == "https://hooks.partner.example/globex"
    assert m.subscription(db, ANN, 99) is None


def test_remove_subscription_only_own(db):
    own = m.add_subscription(db, ANN, "https://hooks.partner.example/acme", ["*"])
    other = m.add_subscription(db, BOB, "https://hooks.partner.example/globex", ["*"])
    assert m.remove_subscription(db, ANN, other) is False
    assert m.remove_subscription(db, ANN, own) is True
    assert m.remove_subscription(db, ANN, own) is False
    assert [row[0] for row in db.execute("SELECT id FROM subscriptions")] == [other]


def test_subscribed_urls_by_tenant_and_type(db):
    m.add_subscription(db, ANN, "https://hooks.partner.example/paid", ["order.paid"])
    m.add_subscription(db, BOB, "https://hooks.partner.example/globex", ["*"])
    m.add_subscription(db, ANN, "https://events.partner.example/all", ["*"])
    m.add_subscription(db, ANN, "https://events.partner.example/refunds", ["order.refunded"])
    assert m.subscribed_urls(db, 10, "order.paid") == ["https://hooks.partner.example/paid", "https://events.partner.example/all"]
    assert m.subscribed_urls(db, 10, "user.created") == ["https://events.partner.example/all"]
    assert m.subscribed_urls(db, 20, "order.paid") == ["https://hooks.partner.example/globex"]
    assert m.subscribed_urls(db, 30, "order.paid") == []


def test_accept_event_queues_one_delivery_per_subscription(tenants):
    db = tenants
    m.add_subscription(db, ANN, "https://hooks.partner.example/paid", ["order.paid"])
    m.add_subscription(db, ANN, "https://events.partner.example/all", ["*"])
    m.add_subscription(db, BOB, "https://hooks.partner.example/globex", ["*"])
    raw, signature = signed("acme-secret", {"issued_at": NOW - 10, "event": {"type": "order.paid", "id": 7}})
    idents = m.accept_event(db, 10, raw, signature, NOW)
    assert len(idents) == 2
    rows = [db.execute("SELECT url, body, state, due FROM log WHERE id = ?", (ident,)).fetchone() for ident in idents]
    assert rows == [("https://hooks.partner.example/paid", '{"type": "order.paid", "id": 7}', "pending", NOW),
                    ("https://events.partner.example/all", '{"type": "order.paid", "id": 7}', "pending", NOW)]
    raw, signature = signed("acme-secret", {"issued_at": NOW, "event": {"type": "user.created"}})
    assert len(m.accept_event(db, 10, raw, signature, NOW)) == 1
    raw, signature = signed("globex-secret", {"issued_at": NOW, "event": {"type": "order.paid"}})
    [ident] = m.accept_event(db, 20, raw, signature, NOW)
    assert db.execute("SELECT url FROM log WHERE id = ?", (ident,)).fetchone() == ("https://hooks.partner.example/globex",)


def test_accept_event_refuses_bad_signatures_and_unknown_tenants(tenants):
    db = tenants
    m.add_subscription(db, ANN, "https://hooks.partner.example/all", ["*"])
    raw, signature = signed("acme-secret", {"issued_at": NOW, "event": {"type": "order.paid"}})
    with pytest.raises(ValueError):
        m.accept_event(db, 10, raw, "0" * 64, NOW)
    with pytest.raises(ValueError):
        m.accept_event(db, 10, raw.replace("paid", "void"), signature, NOW)
    with pytest.raises(ValueError):
        m.accept_event(db, 20, raw, signature, NOW)
    with pytest.raises(LookupError):
        m.accept_event(db, 30, raw, signature, NOW)
    with pytest.raises(LookupError):
        m.accept_event(db, 99, raw, signature, NOW)
    assert db.execute("SELECT COUNT(*) FROM log").fetchone() == (0,)


def test_accept_event_time_window(tenants):
    db = tenants
    m.add_subscription(db, ANN, "https://hooks.partner.example/all", ["*"])
    for issued, accepted in [(NOW - 300, True), (NOW - 301, False), (NOW + 60, True), (NOW + 61, False), (NOW, True)]:
        raw, signature = signed("acme-secret", {"issued_at": issued, "event": {"type": "order.paid"}})
        if accepted:
            assert len(m.accept_event(db, 10, raw, signature, NOW)) == 1
        else:
            with pytest.raises(ValueError):
                m.accept_event(db, 10, raw, signature, NOW)
    assert db.execute("SELECT COUNT(*) FROM log").fetchone() == (3,)


def test_accept_event_logs_the_type_escaped(tenants, caplog):
    raw, signature = signed("acme-secret", {"issued_at": NOW, "event": {"type": "order.paid\nINFO forged"}})
    with caplog.at_level(logging.INFO, logger="webhooks"):
        assert m.accept_event(tenants, 10, raw, signature, NOW) == []
    assert caplog.messages == ["tenant 10: inbound 'order.paid\\nINFO forged' event"]


def test_rotate_endpoint_secret(tenants):
    db = tenants
    m.add_subscription(db, ANN, "https://hooks.partner.example/all", ["*"])
    with pytest.raises(PermissionError):
        m.rotate_endpoint_secret(db, ANN, 10)
    assert db.execute("SELECT endpoint_secret FROM tenants WHERE id = 10").fetchone() == ("acme-secret",)
    secret = m.rotate_endpoint_secret(db, OPS, 10)
    assert len(secret) == 43 and secret != m.rotate_endpoint_secret(db, OPS, 30)
    assert db.execute("SELECT endpoint_secret FROM tenants WHERE id = 10").fetchone() == (secret,)
    assert db.execute("SELECT endpoint_secret FROM tenants WHERE id = 20").fetchone() == ("globex-secret",)
    raw, old = signed("acme-secret", {"issued_at": NOW, "event": {"type": "order.paid"}})
    with pytest.raises(ValueError):
        m.accept_event(db, 10, raw, old, NOW)
    assert len(m.accept_event(db, 10, *signed(secret, {"issued_at": NOW, "event": {"type": "x"}}), NOW)) == 1
    with pytest.raises(LookupError):
        m.rotate_endpoint_secret(db, OPS, 99)


@pytest.fixture
def http(monkeypatch):
    import requests

    calls = []

    def fake(method):
        def call(url, **kwargs):
            calls.append((method, url, kwargs))
            if "down" in url:
                raise requests.ConnectionError("refused")
            return SimpleNamespace(status_code=500 if "broken" in url else 200)
        return call

    monkeypatch.setattr(requests, "get", fake("GET"))
    monkeypatch.setattr(requests, "post", fake("POST"))
    return calls


def test_endpoint_alive_pings_allowed_hosts_only(http):
    assert m.endpoint_alive("https://hooks.partner.example/acme") is True
    assert m.endpoint_alive("https://hooks.partner.example/broken") is False
    assert m.endpoint_alive("http://169.254.169.254/latest/meta-data/") is False
    assert m.endpoint_alive("https://localhost:8080/admin") is False
    assert http == [("GET", "https://hooks.partner.example/acme", {"timeout": 10}),
                    ("GET", "https://hooks.partner.example/broken", {"timeout": 10})]


def test_deliver_posts_signed_event_and_records_outcome(db, http, caplog):
    ok = m.enqueue(db, "https://hooks.partner.example/ok", {"n": 1}, NOW)
    broken = m.enqueue(db, "https://hooks.partner.example/broken", {"n": 2}, NOW)
    down = m.enqueue(db, "https://hooks.partner.example/down", {"n": 3}, NOW)
    with caplog.at_level(logging.INFO, logger="webhooks"):
        assert m.deliver(db, ok, "https://hooks.partner.example/ok", {"n": 1}, NOW) == "delivered"
        assert m.deliver(db, broken, "https://hooks.partner.example/broken", {"n": 2}, NOW) == "pending"
        assert m.deliver(db, down, "https://hooks.partner.example/down", {"n": 3}, NOW) == "pending"
    assert http[0] == ("POST", "https://hooks.partner.example/ok", {
        "json": {"n": 1}, "headers": {"X-Signature": m.sign('{"n": 1}', NOW), "X-Delivery-Id": ok}, "timeout": 10})
    assert row_of(db, ok) == (1, "delivered", None)
    assert row_of(db, down)[:2] == (1, "pending")
    assert caplog.messages == [f"delivery {ok} to 'https://hooks.partner.example/ok': HTTP 200, delivered",
                               f"delivery {broken} to 'https://hooks.partner.example/broken': HTTP 500, pending",
                               f"delivery {down} to 'https://hooks.partner.example/down': HTTP 0, pending"]
