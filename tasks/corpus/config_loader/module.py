"""Settings loader: INI-style files, YAML/JSON overlays and APP_SECTION__KEY env overrides."""

import ast
import json
import os
import pickle
import random
import secrets
import shutil
import subprocess
import tempfile

BASE_DIR = os.environ.get("APP_CONFIG_DIR", "/etc/shopapp")
API_KEY = os.environ.get("SHOPAPP_API_KEY", "")
SECRET_KEY = os.environ.get("SHOPAPP_SECRET_KEY", "")
ENV_PREFIX = "APP_"
SECTION_SEP = "__"
KEYWORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def resolve_inside(base: str, name: str) -> str:
    """Absolute path of `name` inside `base`; ValueError if the name climbs out of it."""
    root = os.path.realpath(base)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root:
        raise ValueError(f"config path outside {base}: {name}")
    return path


def parse_value(text: str):
    """Booleans by keyword, Python literals (numbers, lists, quoted strings), else the text."""
    text = text.strip()
    if text.lower() in KEYWORDS:
        return KEYWORDS[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_ini(text: str) -> dict[str, dict]:
    """`[section]` headers and `key = value` lines; blank lines and `#`/`;` comments skipped."""
    config: dict[str, dict] = {"default": {}}
    section = "default"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
            config.setdefault(section, {})
        elif "=" in line:
            key, _, value = line.partition("=")
            config[section][key.strip().lower()] = parse_value(value)
        else:
            raise ValueError(f"line {number}: expected 'key = value'")
    return config


def apply_env(config: dict[str, dict], environ: dict[str, str] | None = None) -> int:
    """Applies APP_SECTION__KEY variables to `config` in place; returns how many were applied."""
    if environ is None:
        environ = dict(os.environ)
    applied = 0
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or SECTION_SEP not in name:
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition(SECTION_SEP)
        config.setdefault(section, {})[key] = parse_value(environ[name])
        applied += 1
    return applied


def read_text(name: str) -> str:
    """Contents of a config file stored under BASE_DIR."""
    path = resolve_inside(BASE_DIR, name)
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def load_yaml_overlay(name: str) -> dict:
    """Optional YAML overlay file from BASE_DIR; an empty file means no overrides."""
    import yaml
    path = resolve_inside(BASE_DIR, name)
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return data or {}


def load_json_overlay(raw: str) -> dict[str, dict]:
    """Overrides as a JSON object of sections (admin UI or the central config service)."""
    data = json.loads(raw)
    return {section.lower(): dict(values) for section, values in data.items()}


def fetch_remote_overlay(url: str) -> dict[str, dict]:
    import requests
    response = requests.get(url, timeout=10)
    return load_json_overlay(response.text)


def publish_snapshot(user, config: dict[str, dict], name: str, service: str) -> str:
    """Admin action: atomically replaces the workers' pickled config cache, then reloads."""
    if not user.is_admin: raise PermissionError("admin only")
    path = resolve_inside(BASE_DIR, name)
    fd, tmp_path = tempfile.mkstemp(suffix=".pkl")
    with os.fdopen(fd, "wb") as handle:
        pickle.dump(config, handle)
    shutil.move(tmp_path, path)
    subprocess.run(["systemctl", "reload", service], check=True)
    return path


def new_instance_id() -> str:
    return secrets.token_hex(16)


def retry_delay(attempt: int, cap: int = 60) -> float:
    """Backoff with random jitter so a fleet does not re-fetch in lockstep."""
    return min(2 ** attempt, cap) + random.uniform(0, 1)
