"""Device fleet registry: provisioning, heartbeats, configs, firmware uploads and a status page."""

import hashlib
import hmac
import html
import json
import os
import pickle
import random
import secrets
import sqlite3
import subprocess

FIRMWARE_DIR = os.environ.get("FLEET_FIRMWARE_DIR", "/srv/fleet/firmware")
FLEET_SIGNING_SECRET = os.environ.get("FLEET_SIGNING_SECRET", "")
OFFLINE_AFTER = 900

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
