import hashlib
import hmac
import json
import os
import random
from types import SimpleNamespace

import pytest

os.environ.setdefault("WEBHOOK_SIGNING_SECRET", "test-signing-secret")

import module as m  # noqa: E402

ADMIN = SimpleNamespace(is_admin=True)
CLERK = SimpleNamespace(is_admin=False)
NOW = 1_700_000_000


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
