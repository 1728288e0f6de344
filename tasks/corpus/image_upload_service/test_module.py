import hashlib
import hmac
import json
import os
import pickle

import pytest

import module as m


@pytest.fixture
def base(tmp_path, monkeypatch):
    root = tmp_path / "uploads"
    root.mkdir()
    monkeypatch.setattr(m, "BASE_DIR", str(root))
    return root


def test_resolve_inside_accepts_names_under_base(tmp_path):
    root = os.path.realpath(tmp_path)
    assert m.resolve_inside(str(tmp_path), "cat.png") == os.path.join(root, "cat.png")
    assert m.resolve_inside(str(tmp_path), "a/../b.png") == os.path.join(root, "b.png")
    assert m.resolve_inside(str(tmp_path), "") == root


def test_resolve_inside_rejects_escapes(tmp_path):
    up = tmp_path / "up"
    up.mkdir()
    for name in ["../x.png", "/etc/passwd", "../upx/a.png", "a/../../x.png"]:
        with pytest.raises(ValueError):
            m.resolve_inside(str(up), name)


def test_resolve_inside_rejects_symlink_out(tmp_path):
    up = tmp_path / "up"
    up.mkdir()
    os.symlink(tmp_path, up / "link")
    with pytest.raises(ValueError):
        m.resolve_inside(str(up), "link/secret.txt")


def test_check_upload_types():
    assert m.check_upload("cat.png", 10) == "image/png"
    assert m.check_upload("CAT.JPG", 10) == "image/jpeg"
    assert m.check_upload("a.b.gif", 10) == "image/gif"
    for name in ["logo.svg", "README", "png"]:
        with pytest.raises(ValueError):
            m.check_upload(name, 10)


def test_check_upload_sizes():
    assert m.check_upload("a.png", 1) == "image/png"
    assert m.check_upload("a.png", m.MAX_BYTES) == "image/png"
    assert m.MAX_BYTES == 5 * 1024 * 1024
    for size in [0, -1, m.MAX_BYTES + 1]:
        with pytest.raises(ValueError):
            m.check_upload("a.png", size)


def test_save_upload_writes_file_and_record(base):
    record = m.save_upload("cat.png", b"\x89PNG data")
    assert (base / "cat.png").read_bytes() == b"\x89PNG data"
    assert sorted(os.listdir(base)) == ["cat.png"]
    assert len(record["id"]) == 32
    int(record["id"], 16)
    assert record["name"] == "cat.png"
    assert record["type"] == "image/png"
    assert record["sha256"] == hashlib.sha256(b"\x89PNG data").hexdigest()
    assert m.save_upload("cat.png", b"x")["id"] != record["id"]


def test_save_upload_rejects_bad_names_before_writing(base, tmp_path):
    with pytest.raises(ValueError):
        m.save_upload("../escape.png", b"data")
    with pytest.raises(ValueError):
        m.save_upload("script.html", b"<script>")
    assert os.listdir(base) == []
    assert not (tmp_path / "escape.png").exists()


def test_read_upload_roundtrip_and_traversal(base, tmp_path):
    (base / "dog.gif").write_bytes(b"GIF89a")
    (tmp_path / "secret.gif").write_bytes(b"secret")
    assert m.read_upload("dog.gif") == b"GIF89a"
    with pytest.raises(ValueError):
        m.read_upload("../secret.gif")


def test_publish_image_commands(base, monkeypatch):
    calls = []
    monkeypatch.setattr(m.subprocess, "run", lambda argv, **kw: calls.append((argv, kw)))
    source = os.path.join(os.path.realpath(base), "cat.jpg")
    stem = source[:-4]
    outputs = m.publish_image("cat.jpg")
    assert outputs == [f"{stem}.thumb64.png", f"{stem}.thumb256.png"]
    assert calls == [
        (["exiftool", "-all=", "-overwrite_original", source], {"check": True}),
        (["convert", source, "-thumbnail", "64x64^", f"{stem}.thumb64.png"], {"check": True}),
        (["convert", source, "-thumbnail", "256x256^", f"{stem}.thumb256.png"], {"check": True}),
    ]


def test_publish_image_rejects_traversal(base, monkeypatch):
    monkeypatch.setattr(m.subprocess, "run", lambda argv, **kw: pytest.fail("must not run"))
    with pytest.raises(ValueError):
        m.publish_image("../../etc/passwd")


def test_sign_download(monkeypatch):
    monkeypatch.setattr(m, "URL_SIGNING_SECRET", "k3y")
    expected = hmac.new(b"k3y", b"cat.png:5000", hashlib.sha256).hexdigest()
    assert m.sign_download("cat.png", 5000) == expected
    assert m.sign_download("cat.png", 5001) != expected


def test_signed_url_with_jitter(monkeypatch):
    monkeypatch.setattr(m, "URL_SIGNING_SECRET", "k3y")
    monkeypatch.setattr(m.random, "randint", lambda low, high: (low, high) == (0, 59) and 7)
    sig = m.sign_download("my cat.png", 4607)
    assert m.signed_url("my cat.png", 1000) == f"/files/my%20cat.png?expires=4607&sig={sig}"
    sig = m.sign_download("a.png", 1067)
    assert m.signed_url("a.png", 1000, ttl=60) == f"/files/a.png?expires=1067&sig={sig}"


def test_parse_client_metadata_limits():
    raw = json.dumps({"title": "t" * 100, "alt": "a cat", "tags": [f"tag{i}" * 6 for i in range(7)]})
    meta = m.parse_client_metadata(raw)
    assert meta["title"] == "t" * 80
    assert meta["alt"] == "a cat"
    assert meta["tags"] == [(f"tag{i}" * 6)[:20] for i in range(5)]
    assert len(meta["tags"][0]) == 20


def test_parse_client_metadata_defaults():
    assert m.parse_client_metadata("{}") == {"title": "", "alt": "", "tags": []}
    assert m.parse_client_metadata('{"title": 42}')["title"] == "42"


def test_save_dimension_cache(tmp_path):
    path = tmp_path / "dims.cache"
    m.save_dimension_cache({"cat.png": (640, 480)}, str(path))
    with open(path, "rb") as handle:
        assert pickle.load(handle) == {"cat.png": (640, 480)}


def test_gallery_html_escapes_every_field():
    items = [{"id": 7, "url": "/f/a.png?x=1&y=2", "alt": 'say "hi"', "title": "<b>Cats</b>"}]
    assert m.gallery_html(items) == (
        '<figure><a href="/f/a.png?x=1&amp;y=2"><img src="/thumbs/7.png" alt="say &quot;hi&quot;">'
        "</a><figcaption>&lt;b&gt;Cats&lt;/b&gt;</figcaption></figure>")
    two = m.gallery_html(items + [{"id": "8", "url": "/b", "alt": "", "title": "B"}])
    assert two.count("<figure>") == 2 and "\n" in two
    assert m.gallery_html([]) == ""
    foreign = m.gallery_html([{"id": 9, "url": "javascript:alert(1)", "alt": "", "title": ""},
                              {"id": 10, "url": "https://evil.example/", "alt": "", "title": ""}])
    assert foreign.count('<a href="#">') == 2


def test_is_local_url():
    assert m.is_local_url("/gallery") is True
    assert m.is_local_url("https://evil.example") is False
    assert m.is_local_url("//evil.example") is False
    assert m.is_local_url("/\\evil.example") is False
    assert m.is_local_url("gallery") is False


def test_after_upload_redirect():
    assert m.after_upload_redirect(None, "my cat.png") == "/gallery#my%20cat.png"
    assert m.after_upload_redirect("", "a.png") == "/gallery#a.png"
    assert m.after_upload_redirect("/albums/2", "a.png") == "/albums/2"
    assert m.after_upload_redirect("https://evil.example/x", "a.png") == "/"
    assert m.after_upload_redirect("//evil.example/x", "a.png") == "/"
