import hashlib
import hmac
import json
import logging
import os
import pickle
import random
import sqlite3
from types import SimpleNamespace

import pytest

os.environ.setdefault("FLEET_MANIFEST_SECRET", "test-manifest-secret")

import module as m  # noqa: E402

NOW = 1_700_000_000.0
ADMIN = SimpleNamespace(is_admin=True)
OPERATOR = SimpleNamespace(is_admin=False)
ACME = m.User(5, tenant_id=10)
GLOBEX = m.User(6, tenant_id=20)
FLEET_ADMIN = m.User(1, tenant_id=0, is_admin=True)


@pytest.fixture
def db():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE devices (serial TEXT, model TEXT, token_digest TEXT, last_seen REAL, status TEXT)")
    conn.execute("CREATE TABLE enrolments (serial TEXT PRIMARY KEY, tenant_id INT, label TEXT, location TEXT)")
    yield conn
    conn.close()


def test_resolve_inside(tmp_path):
    root = os.path.realpath(tmp_path)
    assert m.resolve_inside(str(tmp_path), "a.bin") == os.path.join(root, "a.bin")
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path / "fw"), "../a.bin")


def test_provision_and_authenticate(db):
    token = m.provision(db, "SN-1", "T100")
    other = m.provision(db, "SN-2", "T200")
    assert len(token) == 40 and int(token, 16) >= 0 and token != other
    row = db.execute("SELECT serial, model, token_digest, last_seen, status FROM devices WHERE serial = 'SN-1'").fetchone()
    assert row == ("SN-1", "T100", hashlib.sha256(token.encode()).hexdigest(), None, "active")
    assert m.authenticate(db, token) == "SN-1"
    assert m.authenticate(db, other) == "SN-2"
    assert m.authenticate(db, "wrong") is None


def test_device_info_and_heartbeat(db):
    m.provision(db, "SN-1", "T100")
    m.provision(db, "SN-2", "T200")
    assert m.device_info(db, "SN-1") == {"serial": "SN-1", "model": "T100", "last_seen": None, "status": "active"}
    m.heartbeat(db, "SN-1", NOW)
    assert m.device_info(db, "SN-1")["last_seen"] == NOW
    assert m.device_info(db, "SN-2")["last_seen"] is None
    assert m.device_info(db, "SN-9") is None


def test_offline_devices(db):
    for serial in ("SN-3", "SN-1", "SN-2", "SN-4"):
        m.provision(db, serial, "T100")
    m.heartbeat(db, "SN-1", NOW - 900)
    m.heartbeat(db, "SN-2", NOW - 901)
    m.heartbeat(db, "SN-4", NOW - 10)
    assert m.offline_devices(db, NOW) == ["SN-2", "SN-3"]
    assert m.offline_devices(db, NOW + 1) == ["SN-1", "SN-2", "SN-3"]


def test_decommission(db):
    token = m.provision(db, "SN-1", "T100")
    m.provision(db, "SN-2", "T100")
    with pytest.raises(PermissionError):
        m.decommission(db, OPERATOR, "SN-1")
    assert m.decommission(db, ADMIN, "SN-1") is True
    assert m.decommission(db, ADMIN, "SN-9") is False
    assert m.authenticate(db, token) is None
    assert m.offline_devices(db, NOW) == ["SN-2"]
    assert m.device_info(db, "SN-2")["status"] == "active"


def test_parse_config():
    assert m.parse_config('{"interval": 30, "channels": ["temp", "hum", "temp"]}') == {
        "interval": 30, "channels": ["hum", "temp"]}
    assert m.parse_config("{}") == {"interval": 60, "channels": []}
    assert m.parse_config('{"interval": 10}')["interval"] == 10
    assert m.parse_config('{"interval": 3600}')["interval"] == 3600
    for raw in ('{"interval": 9}', '{"interval": 3601}', "not json"):
        with pytest.raises(ValueError):
            m.parse_config(raw)


def test_config_snapshot():
    configs = {"SN-1": {"interval": 30, "channels": []}}
    assert pickle.loads(m.config_snapshot(configs)) == configs


def test_load_fleet_file():
    text = "- serial: SN-1\n  model: T100\n- serial: 42\n  model: T200\n"
    assert m.load_fleet_file(text) == {"SN-1": "T100", "42": "T200"}
    assert m.load_fleet_file("") == {}


def test_save_firmware(tmp_path, monkeypatch):
    monkeypatch.setattr(m, "FIRMWARE_DIR", str(tmp_path))
    path = m.save_firmware("T100", "1.2.0", b"\x7fELF")
    assert path == os.path.join(os.path.realpath(tmp_path), "T100-1.2.0.bin")
    with open(path, "rb") as handle:
        assert handle.read() == b"\x7fELF"
    with pytest.raises(ValueError):
        m.save_firmware("T100", "../../../x", b"")


def test_signature_valid(monkeypatch):
    seen = []

    def fake_run(argv, **kwargs):
        seen.append((argv, kwargs))
        return SimpleNamespace(returncode=0 if argv[-1] == "good.bin" else 1)

    monkeypatch.setattr(m.subprocess, "run", fake_run)
    assert m.signature_valid("good.bin", "good.sig", "fleet.pem") is True
    assert m.signature_valid("bad.bin", "bad.sig", "fleet.pem") is False
    assert seen[0] == (["openssl", "dgst", "-sha256", "-verify", "fleet.pem", "-signature", "good.sig", "good.bin"],
                       {"capture_output": True})


def test_push_config(monkeypatch):
    import requests

    calls = []
    monkeypatch.setattr(m, "FLEET_SIGNING_SECRET", "s1")
    monkeypatch.setattr(requests, "put", lambda url, **kw: calls.append((url, kw)) or SimpleNamespace(ok=url.endswith("/ok")))
    assert m.push_config("https://gw.example/ok", {"b": 1, "a": 2}) is True
    assert m.push_config("https://gw.example/down", {}) is False
    body = json.dumps({"a": 2, "b": 1})
    signature = hmac.new(b"s1", body.encode(), hashlib.sha256).hexdigest()
    assert calls[0] == ("https://gw.example/ok", {"data": body, "headers": {"X-Signature": signature}, "timeout": 5})


def test_rollout_batch():
    serials = [f"SN-{i}" for i in range(20)]
    assert m.rollout_batch(serials, 10, random.Random(1)) == sorted(random.Random(1).sample(serials, 2))
    assert len(m.rollout_batch(serials, 25)) == 5
    assert len(m.rollout_batch(serials, 1)) == 1
    assert m.rollout_batch(serials[:3], 100) == serials[:3]
    assert m.rollout_batch([], 50) == []


def test_status_page():
    page = m.status_page([("SN-<1>", "T&100", True), ("SN-2", "T200", False)])
    assert page == ("<table><tr class='online'><td>SN-&lt;1&gt;</td><td>T&amp;100</td></tr>"
                    "<tr class='offline'><td>SN-2</td><td>T200</td></tr></table>")
    assert m.status_page([]) == "<table></table>"


@pytest.fixture
def fleet(db):
    for serial, model in (("SN-1", "T100"), ("SN-2", "T200"), ("SN-3", "T100")):
        m.provision(db, serial, model)
    m.enrol(db, FLEET_ADMIN, "SN-1", 10)
    m.enrol(db, FLEET_ADMIN, "SN-2", 20)
    return db


def test_user_defaults():
    assert (ACME.is_admin, ACME.is_active) == (False, True)


def test_provision_logs_device_text_escaped(db, caplog):
    with caplog.at_level(logging.INFO, logger="fleet"):
        m.provision(db, "SN-9\nINFO forged", "T100")
    assert caplog.messages == ["provisioned device 'SN-9\\nINFO forged', model 'T100'"]


def test_enrol_admin_only(fleet):
    with pytest.raises(PermissionError):
        m.enrol(fleet, ACME, "SN-3", 10)
    with pytest.raises(LookupError):
        m.enrol(fleet, FLEET_ADMIN, "SN-9", 10)
    assert fleet.execute("SELECT * FROM enrolments ORDER BY serial").fetchall() == [
        ("SN-1", 10, None, None), ("SN-2", 20, None, None)]
    m.update_properties(fleet, ACME, "SN-1", {"label": "boiler"})
    m.enrol(fleet, FLEET_ADMIN, "SN-1", 20)
    assert fleet.execute("SELECT * FROM enrolments WHERE serial = 'SN-1'").fetchone() == ("SN-1", 20, None, None)


def test_tenant_device_only_within_the_tenant(fleet):
    m.heartbeat(fleet, "SN-1", NOW)
    assert m.tenant_device(fleet, ACME, "SN-1") == {"serial": "SN-1", "model": "T100", "last_seen": NOW,
                                                    "status": "active", "label": None, "location": None}
    assert m.tenant_device(fleet, ACME, "SN-2") is None
    assert m.tenant_device(fleet, GLOBEX, "SN-2")["model"] == "T200"
    assert m.tenant_device(fleet, ACME, "SN-3") is None
    assert m.tenant_device(fleet, ACME, "SN-9") is None


def test_update_properties_allowed_fields_of_own_devices(fleet):
    record = m.update_properties(fleet, ACME, "SN-1", {"label": "boiler room", "location": "B2", "tenant_id": 20,
                                                       "serial": "SN-2"})
    assert record == {"serial": "SN-1", "tenant_id": 10, "label": "boiler room", "location": "B2"}
    assert m.update_properties(fleet, ACME, "SN-1", {"location": "B3"})["label"] == "boiler room"
    assert fleet.execute("SELECT * FROM enrolments ORDER BY serial").fetchall() == [
        ("SN-1", 10, "boiler room", "B3"), ("SN-2", 20, None, None)]
    with pytest.raises(PermissionError):
        m.update_properties(fleet, ACME, "SN-2", {"label": "mine"})
    with pytest.raises(LookupError):
        m.update_properties(fleet, ACME, "SN-3", {"label": "mine"})
    assert m.tenant_device(fleet, GLOBEX, "SN-2")["label"] is None


def manifest_for(data, model="T100", version="2.0.1"):
    manifest = {"model": model, "version": version, "sha256": hashlib.sha256(data).hexdigest()}
    body = json.dumps(manifest, sort_keys=True).encode()
    return manifest, hmac.new(b"test-manifest-secret", body, hashlib.sha256).hexdigest()


def test_install_firmware(tmp_path, monkeypatch):
    monkeypatch.setattr(m, "FIRMWARE_DIR", str(tmp_path))
    manifest, signature = manifest_for(b"\x7fELF")
    assert m.manifest_signature(manifest) == signature
    path = m.install_firmware(manifest, signature, b"\x7fELF")
    assert path == os.path.join(os.path.realpath(tmp_path), "T100-2.0.1.bin")
    with open(path, "rb") as handle:
        assert handle.read() == b"\x7fELF"


def test_install_firmware_refusals(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(m, "FIRMWARE_DIR", str(tmp_path))
    manifest, signature = manifest_for(b"image")
    for args in (({**manifest, "version": "9.9.9"}, signature, b"image"), (manifest, "0" * 64, b"image"),
                 (manifest, signature, b"other image"), ({**manifest, "sha256": None}, signature, b"image")):
        with pytest.raises(ValueError):
            m.install_firmware(*args)
    assert os.listdir(tmp_path) == []
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fleet"):
        with pytest.raises(ValueError):
            m.install_firmware({"model": "T100\nINFO forged", "version": "1"}, signature, b"image")
    assert caplog.messages == ["firmware 'T100\\nINFO forged' '1' refused: bad manifest signature"]


def test_command_tokens(fleet, monkeypatch):
    monkeypatch.setattr(m, "FLEET_SIGNING_SECRET", "s1")
    token = m.command_token(fleet, ACME, "SN-1", "reboot", NOW)
    body, _, mac = token.rpartition(".")
    assert json.loads(body) == {"cmd": "reboot", "exp": NOW + 120, "iat": NOW, "sub": "SN-1"}
    assert mac == hmac.new(b"s1", b"command:" + body.encode(), hashlib.sha256).hexdigest()
    assert m.accept_command(token, "SN-1", NOW) == "reboot"
    assert m.accept_command(token, "SN-1", NOW + 119) == "reboot"
    for when in (NOW + 120, NOW + 121):
        with pytest.raises(ValueError):
            m.accept_command(token, "SN-1", when)
    with pytest.raises(ValueError):
        m.accept_command(token, "SN-2", NOW)
    with pytest.raises(ValueError):
        m.accept_command(body.replace("reboot", "factory_reset") + "." + mac, "SN-1", NOW)
    with pytest.raises(ValueError):
        m.accept_command(body + "." + "0" * 64, "SN-1", NOW)
    assert m.accept_command(m.command_token(fleet, GLOBEX, "SN-2", "factory_reset", NOW), "SN-2", NOW) == "factory_reset"


def test_command_token_refusals(fleet):
    with pytest.raises(PermissionError):
        m.command_token(fleet, ACME, "SN-2", "reboot", NOW)
    with pytest.raises(LookupError):
        m.command_token(fleet, ACME, "SN-3", "reboot", NOW)
    with pytest.raises(ValueError):
        m.command_token(fleet, ACME, "SN-1", "format_disk", NOW)
