"""Lab results portal: patients read and share their results, clinicians amend and release them,
the laboratory's analyser feed posts signed batches, and results are sent as expiring links."""
import hashlib
import hmac
import json
import os
import sqlite3
from dataclasses import dataclass

FEED_SECRET = os.environ["LAB_FEED_SECRET"]
LINK_SECRET = os.environ["LAB_LINK_SECRET"]
LINK_TTL = 48 * 3600
CONTACT_FIELDS = {"phone", "email", "language"}
AMENDABLE_FIELDS = {"value", "unit"}
REFERENCE_RANGES = {"glucose": (3.9, 7.8), "potassium": (3.5, 5.1), "sodium": (135.0, 145.0)}
RESULT_COLUMNS = ("id", "patient_id", "test", "value", "unit", "released")


@dataclass
class Actor:
    id: int
    is_staff: bool = False
    is_admin: bool = False


def flag_value(test: str, value: float) -> str:
    """'low', 'high' or 'normal' against the reference range; 'unknown' for other tests."""
    if test not in REFERENCE_RANGES:
        return "unknown"
    low, high = REFERENCE_RANGES[test]
    if value < low:
        return "low"
    if value > high:
        return "high"
    return "normal"


def abnormal_count(results: list[dict]) -> int:
    count = 0
    for result in results:
        if flag_value(result["test"], result["value"]) in ("low", "high"):
            count += 1
    return count


def load_result(conn: sqlite3.Connection, result_id: int) -> dict:
    """Any result by id, for the clinicians' screens (callers check access)."""
    row = conn.execute("SELECT id, patient_id, test, value, unit, released FROM results WHERE id = ?", (result_id,)).fetchone()
    if row is None: raise LookupError(f"no result {result_id}")
    return dict(zip(RESULT_COLUMNS, row))


def my_result(conn: sqlite3.Connection, actor: Actor, result_id: int) -> tuple | None:
    return conn.execute("SELECT test, value, unit FROM results WHERE id = ? AND released = 1 AND patient_id = ?", (result_id, actor.id)).fetchone()


def result_note(conn: sqlite3.Connection, actor: Actor, result_id: int) -> str:
    row = conn.execute("SELECT note FROM notes WHERE result_id = ? AND patient_id = ?", (result_id, actor.id)).fetchone()
    return row[0] if row else ""


def share_result(conn: sqlite3.Connection, actor: Actor, result_id: int, email: str) -> None:
    """A patient shares one of their results with an outside doctor."""
    result = load_result(conn, result_id)
    if result["patient_id"] != actor.id: raise PermissionError("not your result")
    if not result["released"]: raise ValueError("only released results can be shared")
    conn.execute("INSERT INTO shares (result_id, email) VALUES (?, ?)", (result_id, email.strip().lower()))


def update_contact(patients: dict[int, dict], actor: Actor, changes: dict) -> dict:
    patient = patients[actor.id]
    patient.update({k: v for k, v in changes.items() if k in CONTACT_FIELDS})
    return patient


def amend_result(conn: sqlite3.Connection, actor: Actor, result_id: int, changes: dict) -> dict:
    """Correct a value before release; releasing is a separate, reviewed step."""
    if not actor.is_staff: raise PermissionError("clinicians only")
    result = load_result(conn, result_id)
    if result["released"]: raise ValueError("released results are corrected by an addendum")
    result.update({k: v for k, v in changes.items() if k in AMENDABLE_FIELDS})
    conn.execute("UPDATE results SET value = ?, unit = ?, released = ? WHERE id = ?",
                 (result["value"], result["unit"], result["released"], result_id))
    return result


def release_result(conn: sqlite3.Connection, actor: Actor, result_id: int) -> None:
    if not actor.is_staff: raise PermissionError("clinicians only")
    conn.execute("UPDATE results SET released = 1, released_by = ? WHERE id = ?", (actor.id, result_id))


def erase_patient(conn: sqlite3.Connection, actor: Actor, patient_id: int) -> int:
    if not actor.is_admin: raise PermissionError("admin only")
    return conn.execute("DELETE FROM results WHERE patient_id = ?", (patient_id,)).rowcount


def signature(body: str, secret: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def ingest_batch(conn: sqlite3.Connection, body: str, given: str) -> int:
    """A batch from the analyser: a signed JSON list of [patient_id, test, value, unit]."""
    if not hmac.compare_digest(signature(body, FEED_SECRET), given): raise ValueError("bad feed signature")
    rows = [(patient_id, test, float(value), unit) for patient_id, test, value, unit in json.loads(body)]
    conn.executemany("INSERT INTO results (patient_id, test, value, unit, released) VALUES (?, ?, ?, ?, 0)", rows)
    return len(rows)


def result_link(result_id: int, now: float) -> str:
    body = json.dumps({"rid": result_id, "iat": now, "exp": now + LINK_TTL})
    return body + "." + signature(body, LINK_SECRET)


def open_link(conn: sqlite3.Connection, link: str, now: float) -> dict | None:
    body, _, mac = link.rpartition(".")
    if not hmac.compare_digest(signature(body, LINK_SECRET), mac): return None
    claims = json.loads(body)
    if claims["exp"] <= now: return None
    result = load_result(conn, claims["rid"])
    return result if result["released"] else None
