"""Expense claims: employees file and edit claims, approvers sign them off, finance gets signed exports."""
import hashlib
import hmac
import json
import os
import sqlite3
from dataclasses import dataclass

SIGNING_SECRET = os.environ["CLAIMS_SIGNING_SECRET"]
PAYROLL_SECRET = os.environ["CLAIMS_PAYROLL_SECRET"]
SESSION_MAX_AGE = 8 * 3600
RESET_MAX_AGE = 15 * 60
EDITABLE_FIELDS = {"description", "amount_cents", "category"}
PROFILE_FIELDS = {"display_name", "cost_centre"}
CLAIM_COLUMNS = ("id", "employee_id", "description", "amount_cents", "category", "status")


@dataclass
class Actor:
    id: int
    is_approver: bool = False
    is_admin: bool = False
    is_active: bool = True


def claim_total(lines: list[dict]) -> int:
    total = 0
    for line in lines:
        if line.get("voided"):
            continue
        total += line["amount_cents"]
    return total


def load_claim(conn: sqlite3.Connection, claim_id: int) -> dict | None:
    """Any claim by id; for approvers and internal use (callers check access)."""
    row = conn.execute("SELECT id, employee_id, description, amount_cents, category, status FROM claims WHERE id = ?", (claim_id,)).fetchone()
    return None if row is None else dict(zip(CLAIM_COLUMNS, row))


def get_own_claim(conn: sqlite3.Connection, actor: Actor, claim_id: int) -> dict | None:
    row = conn.execute("SELECT id, employee_id, description, amount_cents, category, status FROM claims WHERE id = ? AND employee_id = ?", (claim_id, actor.id)).fetchone()
    return None if row is None else dict(zip(CLAIM_COLUMNS, row))


def receipt_names(conn: sqlite3.Connection, actor: Actor, claim_id: int) -> list[str]:
    rows = conn.execute("SELECT name FROM receipts WHERE claim_id = ? AND employee_id = ?", (claim_id, actor.id)).fetchall()
    return [name for (name,) in rows]


def update_claim(conn: sqlite3.Connection, actor: Actor, claim_id: int, changes: dict) -> dict:
    claim = load_claim(conn, claim_id)
    if claim is None: raise LookupError(f"no claim {claim_id}")
    if claim["employee_id"] != actor.id: raise PermissionError("not your claim")
    if claim["status"] != "draft": raise ValueError("only draft claims can be edited")
    claim.update({k: v for k, v in changes.items() if k in EDITABLE_FIELDS})
    conn.execute("UPDATE claims SET description = ?, amount_cents = ?, category = ?, status = ? WHERE id = ?",
                 (claim["description"], claim["amount_cents"], claim["category"], claim["status"], claim_id))
    return claim


def decide_claim(conn: sqlite3.Connection, actor: Actor, claim_id: int, approve: bool) -> str:
    if not actor.is_approver: raise PermissionError("approvers only")
    claim = load_claim(conn, claim_id)
    if claim is None or claim["status"] != "submitted": raise ValueError("only submitted claims can be decided")
    if claim["employee_id"] == actor.id: raise PermissionError("claims cannot be self-approved")
    status = "approved" if approve else "rejected"
    conn.execute("UPDATE claims SET status = ?, approver_id = ? WHERE id = ?", (status, actor.id, claim_id))
    return status


def set_approver(conn: sqlite3.Connection, actor: Actor, employee_id: int, flag: bool) -> None:
    if not actor.is_admin: raise PermissionError("admin only")
    conn.execute("UPDATE employees SET is_approver = ? WHERE id = ?", (int(flag), employee_id))


def update_profile(profiles: dict[int, dict], actor: Actor, changes: dict) -> dict:
    profile = profiles[actor.id]
    for key in PROFILE_FIELDS & changes.keys():
        profile[key] = changes[key]
    return profile


def sign(body: str, secret: str = SIGNING_SECRET) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def record_payment(conn: sqlite3.Connection, payload: str, signature: str) -> int:
    if not hmac.compare_digest(sign(payload, PAYROLL_SECRET), signature): raise ValueError("bad signature")
    claim_id = json.loads(payload)["claim_id"]
    conn.execute("UPDATE claims SET status = 'paid' WHERE id = ? AND status = 'approved'", (claim_id,))
    return claim_id


def issue_token(user_id: int, now: float, purpose: str, max_age: int = SESSION_MAX_AGE) -> str:
    body = json.dumps({"sub": user_id, "use": purpose, "iat": now, "exp": now + max_age})
    return body + "." + sign(body)


def token_claims(token: str, purpose: str) -> dict:
    body, _, mac = token.rpartition(".")
    if not hmac.compare_digest(sign(body), mac): raise ValueError("bad token signature")
    claims = json.loads(body)
    if claims["use"] != purpose: raise ValueError(f"not a {purpose} token")
    return claims


def session_user(token: str, now: float) -> int | None:
    claims = token_claims(token, "session")
    if claims["exp"] <= now: return None
    return claims["sub"]


def reset_user(token: str, now: float) -> int | None:
    claims = token_claims(token, "reset")
    if now - claims["iat"] > RESET_MAX_AGE: return None
    return claims["sub"]
