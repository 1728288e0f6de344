"""Insurance claims portal: policyholders file claims on their policies and attach documents, adjusters
decide claims and payouts, the payment provider confirms payouts with signed notices; tokens expire."""
import hashlib
import hmac
import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import date

SESSION_SECRET = os.environ["CLAIMS_SESSION_SECRET"]
LINK_SECRET = os.environ["CLAIMS_LINK_SECRET"]
PAYMENT_SECRET = os.environ["CLAIMS_PAYMENT_SECRET"]
SESSION_MAX_AGE = 12 * 3600
LINK_MAX_AGE = 15 * 60
FILING_WINDOW_DAYS = 60
AVERAGE_THRESHOLD = 0.85  # insured below 85% of the value at risk: the payout is scaled down
CLAIM_FIELDS = {"description", "amount_cents"}  # the loss date decides cover: fixed once filed
PROFILE_FIELDS = {"display_name", "phone", "email"}
PROFILE_COLUMNS = ("display_name", "phone", "email", "is_staff")
CLAIM_COLUMNS = ("id", "policy_id", "owner_id", "description", "loss_date", "amount_cents", "status", "payout_cents")


@dataclass
class Actor:
    id: int
    is_staff: bool = False  # claims adjusters
    is_admin: bool = False
    is_active: bool = True


def within_filing_window(loss_date: date, filed_on: date, starts_on: date, ends_on: date) -> bool:
    """Cover runs from the start date up to (not including) the end date; losses are reported in time."""
    if loss_date < starts_on or loss_date >= ends_on:
        return False
    if filed_on < loss_date:
        return False
    return (filed_on - loss_date).days <= FILING_WINDOW_DAYS


def settlement_cents(loss: int, deductible: int, limit: int, sum_insured: int, value_at_risk: int) -> int:
    """The loss less the deductible, scaled pro rata when underinsured (the average clause), capped at the limit."""
    if loss <= deductible:
        return 0
    payable = loss - deductible
    if sum_insured < value_at_risk * AVERAGE_THRESHOLD:
        payable = payable * sum_insured // value_at_risk
    return min(payable, limit)


def _claim(row: tuple | None) -> dict | None:
    return None if row is None else dict(zip(CLAIM_COLUMNS, row))


def load_claim(conn: sqlite3.Connection, claim_id: int) -> dict | None:
    """Any claim by id, for the adjusters' desk and internal use (callers check access)."""
    return _claim(conn.execute("SELECT id, policy_id, owner_id, description, loss_date, amount_cents, status, payout_cents FROM claims WHERE id = ?", (claim_id,)).fetchone())


def get_own_claim(conn: sqlite3.Connection, actor: Actor, claim_id: int) -> dict | None:
    return _claim(conn.execute("SELECT id, policy_id, owner_id, description, loss_date, amount_cents, status, payout_cents FROM claims WHERE id = ? AND owner_id = ?", (claim_id, actor.id)).fetchone())


def file_claim(conn: sqlite3.Connection, actor: Actor, policy_id: int, description: str, loss_date: date, amount_cents: int, today: date) -> int:
    policy = conn.execute("SELECT starts_on, ends_on FROM policies WHERE id = ? AND owner_id = ?", (policy_id, actor.id)).fetchone()
    if policy is None: raise LookupError(f"no policy {policy_id}")
    if not within_filing_window(loss_date, today, *map(date.fromisoformat, policy)): raise ValueError("claim outside the policy's filing window")
    cursor = conn.execute("INSERT INTO claims (policy_id, owner_id, description, loss_date, amount_cents, status) VALUES (?, ?, ?, ?, ?, 'open')",
                          (policy_id, actor.id, description, loss_date.isoformat(), amount_cents))
    return cursor.lastrowid


def edit_claim(conn: sqlite3.Connection, actor: Actor, claim_id: int, changes: dict) -> dict:
    claim = load_claim(conn, claim_id)
    if claim is None: raise LookupError(f"no claim {claim_id}")
    if claim["owner_id"] != actor.id: raise PermissionError("not your claim")
    if claim["status"] != "open": raise ValueError("only open claims can be edited")
    claim.update({k: v for k, v in changes.items() if k in CLAIM_FIELDS})
    conn.execute("UPDATE claims SET description = ?, loss_date = ?, amount_cents = ?, status = ?, payout_cents = ? WHERE id = ?",
                 (claim["description"], claim["loss_date"], claim["amount_cents"], claim["status"], claim["payout_cents"], claim_id))
    return claim


def attach_document(conn: sqlite3.Connection, actor: Actor, claim_id: int, name: str, content: bytes) -> int:
    claim = load_claim(conn, claim_id)
    if claim is None: raise LookupError(f"no claim {claim_id}")
    if claim["owner_id"] != actor.id: raise PermissionError("documents go on your own claims only")
    cursor = conn.execute("INSERT INTO documents (claim_id, owner_id, name, sha256, content) VALUES (?, ?, ?, ?, ?)", (claim_id, actor.id, name, hashlib.sha256(content).hexdigest(), content))
    return cursor.lastrowid


def claim_documents(conn: sqlite3.Connection, actor: Actor, claim_id: int) -> list[tuple[int, str]]:
    return conn.execute("SELECT id, name FROM documents WHERE claim_id = ? AND owner_id = ? ORDER BY id", (claim_id, actor.id)).fetchall()


def decide_claim(conn: sqlite3.Connection, actor: Actor, claim_id: int, approve: bool) -> int:
    if not actor.is_staff: raise PermissionError("adjusters only")
    claim = load_claim(conn, claim_id)
    if claim is None or claim["status"] != "open": raise ValueError("only open claims can be decided")
    if claim["owner_id"] == actor.id: raise PermissionError("adjusters cannot decide their own claims")
    terms = conn.execute("SELECT deductible_cents, limit_cents, sum_insured_cents, value_cents FROM policies WHERE id = ?", (claim["policy_id"],)).fetchone()
    payout = settlement_cents(claim["amount_cents"], *terms) if approve else 0
    conn.execute("UPDATE claims SET status = ?, payout_cents = ?, adjuster_id = ? WHERE id = ?", ("approved" if approve else "declined", payout, actor.id, claim_id))
    return payout


def set_payout(conn: sqlite3.Connection, actor: Actor, claim_id: int, payout_cents: int) -> None:
    if not actor.is_staff: raise PermissionError("adjusters only")
    row = conn.execute("SELECT p.limit_cents, c.owner_id FROM claims c JOIN policies p ON p.id = c.policy_id WHERE c.id = ? AND c.status = 'approved'", (claim_id,)).fetchone()
    if row is None: raise ValueError("only approved claims have a payout")
    if row[1] == actor.id: raise PermissionError("adjusters cannot set payouts on their own claims")
    if payout_cents < 0 or payout_cents > row[0]: raise ValueError("payout outside the coverage limit")
    conn.execute("UPDATE claims SET payout_cents = ?, adjuster_id = ? WHERE id = ?", (payout_cents, actor.id, claim_id))


def set_adjuster(conn: sqlite3.Connection, actor: Actor, user_id: int, flag: bool) -> None:
    if not actor.is_admin: raise PermissionError("administrators only")
    conn.execute("UPDATE users SET is_staff = ? WHERE id = ?", (int(flag), user_id))


def update_profile(conn: sqlite3.Connection, actor: Actor, changes: dict) -> dict:
    profile = dict(zip(PROFILE_COLUMNS, conn.execute("SELECT display_name, phone, email, is_staff FROM users WHERE id = ?", (actor.id,)).fetchone()))
    for key in PROFILE_FIELDS & changes.keys():
        profile[key] = changes[key]
    conn.execute("UPDATE users SET display_name = ?, phone = ?, email = ?, is_staff = ? WHERE id = ?",
                 (profile["display_name"], profile["phone"], profile["email"], profile["is_staff"], actor.id))
    return profile


def sign(body: str, secret: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def payment_notice(conn: sqlite3.Connection, payload: str, signature: str) -> int:
    if not hmac.compare_digest(sign(payload, PAYMENT_SECRET), signature): raise ValueError("bad signature")
    notice = json.loads(payload)
    cursor = conn.execute("UPDATE claims SET status = 'paid' WHERE id = ? AND status = 'approved' AND payout_cents = ?", (notice["claim_id"], notice["amount_cents"]))
    if cursor.rowcount == 0: raise ValueError("no approved claim with that payout")
    return notice["claim_id"]


def issue_token(subject: int, purpose: str, now: float, secret: str, max_age: int = SESSION_MAX_AGE) -> str:
    body = json.dumps({"sub": subject, "use": purpose, "iat": now, "exp": now + max_age}, separators=(",", ":"))
    return body + "." + sign(body, secret)


def token_claims(token: str, purpose: str, secret: str) -> dict:
    body, _, mac = token.rpartition(".")
    if not hmac.compare_digest(sign(body, secret), mac): raise ValueError("bad token signature")
    claims = json.loads(body)
    if claims["use"] != purpose: raise ValueError(f"not a {purpose} token")
    return claims


def session_actor(conn: sqlite3.Connection, token: str, now: float) -> Actor | None:
    claims = token_claims(token, "session", SESSION_SECRET)
    if claims["exp"] <= now: return None
    row = conn.execute("SELECT id, is_staff, is_admin FROM users WHERE id = ?", (claims["sub"],)).fetchone()
    return None if row is None else Actor(row[0], bool(row[1]), bool(row[2]))


def document_link(conn: sqlite3.Connection, actor: Actor, document_id: int, now: float) -> str:
    if conn.execute("SELECT id FROM documents WHERE id = ? AND owner_id = ?", (document_id, actor.id)).fetchone() is None: raise LookupError(f"no document {document_id}")
    return issue_token(document_id, "document", now, LINK_SECRET, LINK_MAX_AGE)


def download_document(conn: sqlite3.Connection, token: str, now: float) -> tuple[str, bytes] | None:
    claims = token_claims(token, "document", LINK_SECRET)
    if now - claims["iat"] > LINK_MAX_AGE: raise PermissionError("link expired")
    return conn.execute("SELECT name, content FROM documents WHERE id = ?", (claims["sub"],)).fetchone()
