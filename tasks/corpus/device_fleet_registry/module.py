"""Device fleet registry: provisioning, enrolment of devices in customer tenants, heartbeats,
configs, firmware uploads with signed manifests, short-lived command tokens and a status page."""

import hashlib
import hmac
import html
import json
import logging
import os
import pickle
import random
import secrets
import sqlite3
import subprocess
from dataclasses import dataclass

log = logging.getLogger("fleet")

FIRMWARE_DIR = os.environ.get("FLEET_FIRMWARE_DIR", "/srv/fleet/firmware")
FLEET_SIGNING_SECRET = os.environ.get("FLEET_SIGNING_SECRET", "")
MANIFEST_SECRET = os.environ["FLEET_MANIFEST_SECRET"]
OFFLINE_AFTER = 900
COMMAND_TTL = 120
COMMANDS = frozenset({"reboot", "identify", "factory_reset"})
PROPERTY_FIELDS = frozenset({"label", "location"})
ENROLMENT_COLUMNS = ("serial", "tenant_id", "label", "location")
DEVICE_COLUMNS = ("serial", "model", "last_seen", "status", "label", "location")

@dataclass
class User:
    id: int
    tenant_id: int
    is_admin: bool = False
    is_active: bool = True

def resolve_inside(base: str, name: str) -> str:
    root = os.path.realpath(base)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root:
        raise ValueError(f"firmware path outside {base}: {name}")
    return path

def provision(db: sqlite3.Connection, serial: str, model: str) -> str:
    """Registers a device and returns its API token; only a digest of the token is stored."""
    token = secrets.token_hex(20)
    digest = hashlib.sha256(token.encode()).hexdigest()
    db.execute("INSERT INTO devices VALUES (?, ?, ?, NULL, 'active')", (serial, model, digest))
    log.info("provisioned device %r, model %r", serial, model)
    return token

def authenticate(db: sqlite3.Connection, token: str) -> str | None:
    """Serial of the active device holding `token`, else None."""
    presented = hashlib.sha256(token.encode()).hexdigest()
    cur = db.execute("SELECT serial FROM devices WHERE token_digest = ? AND status = 'active'", (presented,))
    row = cur.fetchone()
    return None if row is None else row[0]

def device_info(db: sqlite3.Connection, serial: str) -> dict | None:
    cur = db.execute("SELECT serial, model, last_seen, status FROM devices WHERE serial = ?", (serial,))
    row = cur.fetchone()
    if row is None:
        return None
    return {"serial": row[0], "model": row[1], "last_seen": row[2], "status": row[3]}

def enrol(db: sqlite3.Connection, user: User, serial: str, tenant_id: int) -> None:
    """Fleet admins hand a provisioned device to a customer tenant (its properties start empty)."""
    if not user.is_admin:
        raise PermissionError("fleet admins only")
    if device_info(db, serial) is None:
        raise LookupError(f"no device {serial}")
    db.execute("INSERT OR REPLACE INTO enrolments (serial, tenant_id) VALUES (?, ?)", (serial, tenant_id))

def _enrolment(db: sqlite3.Connection, serial: str) -> dict | None:
    row = db.execute("SELECT serial, tenant_id, label, location FROM enrolments WHERE serial = ?", (serial,)).fetchone()
    return None if row is None else dict(zip(ENROLMENT_COLUMNS, row))

def tenant_device(db: sqlite3.Connection, user: User, serial: str) -> dict | None:
    """A device of the user's tenant with its properties; None for other tenants' devices."""
    row = db.execute("SELECT serial, model, last_seen, status, label, location FROM devices JOIN enrolments USING (serial) WHERE serial = ? AND tenant_id = ?", (serial, user.tenant_id)).fetchone()
    return None if row is None else dict(zip(DEVICE_COLUMNS, row))

def update_properties(db: sqlite3.Connection, user: User, serial: str, changes: dict) -> dict:
    """Tenants name and place their devices; nothing else of an enrolment is theirs to change."""
    record = _enrolment(db, serial)
    if record is None: raise LookupError(f"device {serial} is not enrolled")
    if record["tenant_id"] != user.tenant_id: raise PermissionError("not your device")
    for key in PROPERTY_FIELDS & changes.keys():
        record[key] = changes[key]
    db.execute("UPDATE enrolments SET tenant_id = ?, label = ?, location = ? WHERE serial = ?",
               (record["tenant_id"], record["label"], record["location"], serial))
    return record

def heartbeat(db: sqlite3.Connection, serial: str, now: float) -> None:
    db.execute("UPDATE devices SET last_seen = ? WHERE serial = ?", (now, serial))

def offline_devices(db: sqlite3.Connection, now: float) -> list[str]:
    """Active devices never seen or silent for more than 15 minutes."""
    cur = db.execute("SELECT serial, last_seen FROM devices WHERE status = 'active' ORDER BY serial")
    return [serial for serial, seen in cur.fetchall() if seen is None or now - seen > OFFLINE_AFTER]

def decommission(db: sqlite3.Connection, user, serial: str) -> bool:
    if not user.is_admin: raise PermissionError("admin only")
    cur = db.execute("UPDATE devices SET status = 'retired' WHERE serial = ?", (serial,))
    return cur.rowcount == 1

def parse_config(raw: str) -> dict:
    """A device config sent by operators as JSON; the sampling interval is 10 s to 1 h."""
    config = json.loads(raw)
    interval = int(config.get("interval", 60))
    if interval < 10 or interval > 3600:
        raise ValueError("interval must be between 10 and 3600 seconds")
    return {"interval": interval, "channels": sorted(set(config.get("channels", [])))}

def config_snapshot(configs: dict[str, dict]) -> bytes:
    """All configs in one blob for the gateway processes, which read only our own snapshots."""
    return pickle.dumps(configs)

def load_fleet_file(text: str) -> dict[str, str]:
    """Serial -> model from the YAML inventory file."""
    import yaml
    data = yaml.safe_load(text)
    return {str(item["serial"]): str(item["model"]) for item in data or []}

def save_firmware(model: str, version: str, data: bytes) -> str:
    """Stores an uploaded image as FIRMWARE_DIR/<model>-<version>.bin and returns its path."""
    path = resolve_inside(FIRMWARE_DIR, f"{model}-{version}.bin")
    with open(path, "wb") as handle:
        handle.write(data)
    return path

def manifest_signature(manifest: dict) -> str:
    body = json.dumps(manifest, sort_keys=True)
    return hmac.new(MANIFEST_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()

def install_firmware(manifest: dict, signature: str, data: bytes) -> str:
    """An image from the build server: its manifest {"model", "version", "sha256"} must carry the
    build server's HMAC and describe this image."""
    model, version = manifest.get("model"), manifest.get("version")
    if not hmac.compare_digest(manifest_signature(manifest), signature):
        log.warning("firmware %r %r refused: bad manifest signature", model, version)
        raise ValueError("bad manifest signature")
    if hashlib.sha256(data).hexdigest() != manifest.get("sha256"):
        raise ValueError("image does not match its manifest")
    return save_firmware(str(model), str(version), data)

def signature_valid(path: str, signature: str, public_key: str) -> bool:
    """Checks the detached signature of a firmware image with openssl."""
    result = subprocess.run(["openssl", "dgst", "-sha256", "-verify", public_key, "-signature", signature, path], capture_output=True)
    return result.returncode == 0

def push_config(url: str, config: dict) -> bool:
    import requests
    body = json.dumps(config, sort_keys=True)
    signature = hmac.new(FLEET_SIGNING_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    response = requests.put(url, data=body, headers={"X-Signature": signature}, timeout=5)
    return response.ok

def _command_mac(body: str) -> str:
    return hmac.new(FLEET_SIGNING_SECRET.encode(), b"command:" + body.encode(), hashlib.sha256).hexdigest()

def command_token(db: sqlite3.Connection, user: User, serial: str, command: str, now: float) -> str:
    """A signed command for one of the tenant's devices, valid for COMMAND_TTL seconds."""
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}")
    record = _enrolment(db, serial)
    if record is None: raise LookupError(f"device {serial} is not enrolled")
    if record["tenant_id"] != user.tenant_id: raise PermissionError("not your device")
    body = json.dumps({"sub": serial, "cmd": command, "iat": now, "exp": now + COMMAND_TTL}, sort_keys=True)
    return body + "." + _command_mac(body)

def accept_command(token: str, serial: str, now: float) -> str:
    """Gateway side: the command a token carries, if it is genuine, for this device and unexpired."""
    body, _, mac = token.rpartition(".")
    if not hmac.compare_digest(_command_mac(body), mac):
        raise ValueError("bad command signature")
    claims = json.loads(body)
    if claims["sub"] != serial:
        raise ValueError("command for another device")
    if claims["exp"] <= now:
        raise ValueError("command expired")
    return claims["cmd"]

def rollout_batch(serials: list[str], percent: int, rng: random.Random | None = None) -> list[str]:
    """Canary rollout: a random `percent` of the fleet, at least one device, updates first."""
    count = max(1, len(serials) * percent // 100)
    return sorted((rng or random.Random()).sample(serials, min(count, len(serials))))

def status_page(devices: list[tuple[str, str, bool]]) -> str:
    """HTML table of devices; serials and models are reported by the devices themselves."""
    rows = []
    for serial, model, online in devices:
        state = "online" if online else "offline"
        label = f"<td>{html.escape(serial)}</td>"
        rows.append(f"<tr class='{state}'>{label}<td>{html.escape(model)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"
