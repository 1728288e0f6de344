import os
import pickle
from types import SimpleNamespace

import pytest

import module as m

SAMPLE = """
# shop settings
name = 'Corner Shop'
debug = off

[Database]
Host = db.internal
port = 5432
; legacy option
options = ["ssl", "pool"]
dsn = user=shop password=x

[cache]
ttl = 2.5
"""


@pytest.fixture
def base(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    monkeypatch.setattr(m, "BASE_DIR", str(folder))
    return folder


def test_resolve_inside(tmp_path):
    root = os.path.realpath(tmp_path)
    assert m.resolve_inside(str(tmp_path), "app.ini") == os.path.join(root, "app.ini")
    assert m.resolve_inside(str(tmp_path), "a/../b.ini") == os.path.join(root, "b.ini")
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path / "x"), "../app.ini")
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path), "/etc/passwd")


def test_parse_value_keywords():
    assert m.parse_value("true") is True
    assert m.parse_value(" Yes ") is True
    assert m.parse_value("ON") is True
    assert m.parse_value("false") is False
    assert m.parse_value("no") is False
    assert m.parse_value("Off") is False


def test_parse_value_literals_and_text():
    assert m.parse_value(" 42 ") == 42
    assert m.parse_value("2.5") == 2.5
    assert m.parse_value("[1, 'a']") == [1, "a"]
    assert m.parse_value("'quoted'") == "quoted"
    assert m.parse_value("None") is None
    assert m.parse_value("plain words") == "plain words"
    assert m.parse_value("  spaced  ") == "spaced"
    assert m.parse_value("") == ""
    assert m.parse_value("__import__('os')") == "__import__('os')"


def test_parse_ini_full():
    config = m.parse_ini(SAMPLE)
    assert config == {
        "default": {"name": "Corner Shop", "debug": False},
        "database": {
            "host": "db.internal",
            "port": 5432,
            "options": ["ssl", "pool"],
            "dsn": "user=shop password=x",
        },
        "cache": {"ttl": 2.5},
    }


def test_parse_ini_edge_cases():
    assert m.parse_ini("") == {"default": {}}
    assert m.parse_ini("[empty]") == {"default": {}, "empty": {}}
    assert m.parse_ini("[a]\nx=1\n[b]\ny=2\n[a]\nz=3") == {
        "default": {}, "a": {"x": 1, "z": 3}, "b": {"y": 2}}
    assert m.parse_ini("k = v\nk = w") == {"default": {"k": "w"}}
    assert m.parse_ini("x = a # kept") == {"default": {"x": "a # kept"}}


def test_parse_ini_bad_line_number():
    with pytest.raises(ValueError, match="line 3"):
        m.parse_ini("a = 1\n\nbroken")
    with pytest.raises(ValueError, match="line 1"):
        m.parse_ini("[unclosed")


def test_apply_env_explicit():
    config = {"default": {}, "db": {"host": "x", "port": 1}}
    environ = {
        "APP_DB__PORT": "5433",
        "APP_DB__HOST": "db2",
        "APP_DEBUG": "true",
        "OTHER__KEY": "1",
        "APP_MAIL__TLS": "yes",
        "APP_A__B__C": "[1]",
    }
    assert m.apply_env(config, environ) == 4
    assert config == {
        "default": {},
        "db": {"host": "db2", "port": 5433},
        "mail": {"tls": True},
        "a": {"b__c": [1]},
    }


def test_apply_env_nothing_to_apply():
    config = {"default": {"x": 1}}
    assert m.apply_env(config, {"HOME": "/root", "APP_": "1"}) == 0
    assert m.apply_env(config, {}) == 0
    assert config == {"default": {"x": 1}}


def test_apply_env_default_reads_os_environ(monkeypatch):
    monkeypatch.setenv("APP_CACHE__TTL", "30")
    config = {"default": {}}
    assert m.apply_env(config) >= 1
    assert config["cache"]["ttl"] == 30
    second = {"default": {}}
    assert m.apply_env(second) >= 1
    assert second["cache"] == {"ttl": 30}


def test_read_text(base):
    (base / "app.ini").write_text("a = 1\n", encoding="utf-8")
    assert m.read_text("app.ini") == "a = 1\n"
    (base.parent / "secret.ini").write_text("s = 1\n", encoding="utf-8")
    with pytest.raises(ValueError):
        m.read_text("../secret.ini")


def test_load_json_overlay():
    assert m.load_json_overlay('{"DB": {"port": 1}, "cache": {}}') == {"db": {"port": 1}, "cache": {}}
    assert m.load_json_overlay("{}") == {}


def test_publish_snapshot_admin(base, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(m.subprocess, "run", lambda argv, **kw: calls.append((argv, kw)))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(m.tempfile, "tempdir", str(scratch))
    config = {"default": {"a": 1}}
    path = m.publish_snapshot(SimpleNamespace(is_admin=True), config, "cache.pkl", "shop")
    assert path == os.path.join(os.path.realpath(base), "cache.pkl")
    with open(path, "rb") as handle:
        assert pickle.load(handle) == config
    assert calls == [(["systemctl", "reload", "shop"], {"check": True})]
    assert os.listdir(scratch) == []


def test_publish_snapshot_rejects(base, monkeypatch):
    calls = []
    monkeypatch.setattr(m.subprocess, "run", lambda argv, **kw: calls.append(argv))
    with pytest.raises(PermissionError):
        m.publish_snapshot(SimpleNamespace(is_admin=False), {}, "cache.pkl", "shop")
    with pytest.raises(ValueError):
        m.publish_snapshot(SimpleNamespace(is_admin=True), {}, "../cache.pkl", "shop")
    assert calls == []
    assert not (base / "cache.pkl").exists()


def test_new_instance_id():
    first = m.new_instance_id()
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != m.new_instance_id()


def test_retry_delay(monkeypatch):
    monkeypatch.setattr(m.random, "uniform", lambda a, b: (a + b) / 2)
    assert m.retry_delay(0) == 1.5
    assert m.retry_delay(3) == 8.5
    assert m.retry_delay(5) == 32.5
    assert m.retry_delay(6) == 60.5
    assert m.retry_delay(4, cap=10) == 10.5
    assert m.retry_delay(3, cap=8) == 8.5
