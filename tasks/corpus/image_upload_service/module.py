"""Image uploads: storage under BASE_DIR, thumbnails, signed download links and metadata."""
import hashlib
import hmac
import html
import json
import os
import pickle
import random
import secrets
import subprocess
import tempfile
from urllib.parse import quote

BASE_DIR = os.environ.get("UPLOAD_ROOT", "/srv/uploads")
URL_SIGNING_SECRET = os.environ.get("URL_SIGNING_SECRET", "")
ALLOWED_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".gif": "image/gif"}
MAX_BYTES = 5 * 1024 * 1024


def resolve_inside(base: str, name: str) -> str:
    """Absolute path of name under base; raises ValueError when it would escape base."""
    root = os.path.realpath(base)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root:
        raise ValueError(f"path escapes the upload root: {name!r}")
    return path


def check_upload(filename: str, size: int) -> str:
    ext = os.path.splitext(filename)[1].lower()
    if ext not in ALLOWED_TYPES:
        raise ValueError(f"file type {ext or '(none)'} is not allowed")
    if size <= 0 or size > MAX_BYTES:
        raise ValueError("file is empty or too large")
    return ALLOWED_TYPES[ext]


def save_upload(filename: str, data: bytes) -> dict:
    content_type = check_upload(filename, len(data))
    path = resolve_inside(BASE_DIR, filename)
    fd, staging = tempfile.mkstemp(suffix=".part", dir=BASE_DIR)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(staging, path)
    upload_id = secrets.token_hex(16)
    digest = hashlib.sha256(data).hexdigest()
    return {"id": upload_id, "name": filename, "type": content_type, "sha256": digest}


def read_upload(filename: str) -> bytes:
    path = resolve_inside(BASE_DIR, filename)
    with open(path, "rb") as handle:
        return handle.read()


def publish_image(filename: str) -> list[str]:
    """Strip EXIF data (GPS position, camera serial), then render 64 and 256 px thumbnails."""
    source = resolve_inside(BASE_DIR, filename)
    subprocess.run(["exiftool", "-all=", "-overwrite_original", source], check=True)
    stem = os.path.splitext(source)[0]
    outputs = []
    for size in (64, 256):
        target = f"{stem}.thumb{size}.png"
        geometry = f"{size}x{size}^"
        subprocess.run(["convert", source, "-thumbnail", geometry, target], check=True)
        outputs.append(target)
    return outputs


def sign_download(filename: str, expires: int) -> str:
    message = f"{filename}:{expires}".encode()
    return hmac.new(URL_SIGNING_SECRET.encode(), message, hashlib.sha256).hexdigest()


def signed_url(filename: str, now: int, ttl: int = 3600) -> str:
    """Download link; a little random slack spreads the cache expiry of popular files."""
    expires = now + ttl + random.randint(0, 59)
    signature = sign_download(filename, expires)
    return f"/files/{quote(filename)}?expires={expires}&sig={signature}"


def parse_client_metadata(raw: str) -> dict:
    meta = json.loads(raw)
    title = str(meta.get("title", ""))
    tags = [str(tag)[:20] for tag in meta.get("tags", [])]
    return {"title": title[:80], "alt": str(meta.get("alt", "")), "tags": tags[:5]}


def save_dimension_cache(cache: dict[str, tuple[int, int]], path: str) -> None:
    """Local cache for the thumbnail worker; only this service ever writes it."""
    with open(path, "wb") as handle:
        pickle.dump(cache, handle)


def gallery_html(items: list[dict]) -> str:
    cards = []
    for item in items:
        link = f'<a href="{html.escape(item["url"] if is_local_url(item["url"]) else "#")}">'
        image = f'<img src="/thumbs/{int(item["id"])}.png" alt="{html.escape(item["alt"])}">'
        caption = f"<figcaption>{html.escape(item['title'])}</figcaption>"
        cards.append(f"<figure>{link}{image}</a>{caption}</figure>")
    return "\n".join(cards)


def is_local_url(target: str) -> bool:
    """Same-site path only: no scheme or host, no protocol-relative '//' or backslash tricks."""
    return target.startswith("/") and not target.startswith("//") and "\\" not in target


def after_upload_redirect(next_url: str | None, filename: str) -> str:
    target = next_url or f"/gallery#{quote(filename)}"
    if not is_local_url(target): target = "/"
    return target


def purge_cdn(purge_url: str, filename: str) -> int:
    """Ask the CDN to drop its cached copy after a file changed."""
    import requests
    response = requests.post(purge_url, json={"path": f"/files/{filename}"}, timeout=10)
    return response.status_code
