import hashlib
import os
import random
from types import SimpleNamespace

import pytest

import module as m

ADMIN = SimpleNamespace(name="root", is_admin=True)
CLERK = SimpleNamespace(name="clerk", is_admin=False)
NOW = 1_700_000_000.0


@pytest.fixture
def base(tmp_path, monkeypatch):
    root = tmp_path / "store"
    root.mkdir()
    monkeypatch.setattr(m, "BASE_DIR", str(root))
    return root


@pytest.fixture
def db():
    conn = m.open_db()
    yield conn
    conn.close()


def test_open_db_creates_tables(db):
    names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert names == {"docs", "shares"}


def test_resolve_inside_accepts_nested_names(base):
    assert m.resolve_inside(str(base), "ann/report.pdf") == str(base / "ann" / "report.pdf")
    assert m.resolve_inside(str(base), "ann/x/../y.txt") == str(base / "ann" / "y.txt")


def test_resolve_inside_rejects_escapes(base, tmp_path):
    with pytest.raises(ValueError):
        m.resolve_inside(str(base), "../outside.txt")
    with pytest.raises(ValueError):
        m.resolve_inside(str(base), "ann/../../outside.txt")
    with pytest.raises(ValueError):
        m.resolve_inside(str(base), str(tmp_path / "outside.txt"))
    with pytest.raises(ValueError):
        m.resolve_inside(str(base), "../store-evil/x")


def test_resolve_inside_rejects_symlink_escape(base, tmp_path):
    (tmp_path / "secret").mkdir()
    os.symlink(tmp_path / "secret", base / "link")
    with pytest.raises(ValueError):
        m.resolve_inside(str(base), "link/key.txt")


def test_checksum():
    assert m.checksum(b"abc") == hashlib.sha256(b"abc").hexdigest()


def test_save_upload_writes_file_and_row(base, db):
    digest = m.save_upload(db, "ann", "notes.txt", b"hello")
    assert digest == hashlib.sha256(b"hello").hexdigest()
    assert (base / "ann" / "notes.txt").read_bytes() == b"hello"
    assert db.execute("SELECT * FROM docs").fetchall() == [("ann", "notes.txt", 5, digest)]


def test_save_upload_size_limit(base, db, monkeypatch):
    assert m.MAX_UPLOAD_BYTES == 5_242_880
    monkeypatch.setattr(m, "MAX_UPLOAD_BYTES", 10)
    m.save_upload(db, "ann", "ten.bin", b"x" * 10)
    with pytest.raises(ValueError):
        m.save_upload(db, "ann", "eleven.bin", b"x" * 11)
    assert not (base / "ann" / "eleven.bin").exists()


def test_save_upload_refuses_overwrite_and_traversal(base, db, tmp_path):
    m.save_upload(db, "ann", "a.txt", b"1")
    with pytest.raises(FileExistsError):
        m.save_upload(db, "ann", "a.txt", b"2")
    assert (base / "ann" / "a.txt").read_bytes() == b"1"
    with pytest.raises(ValueError):
        m.save_upload(db, "ann", "../../evil.txt", b"x")
    assert not (tmp_path / "evil.txt").exists()


def test_read_document(base, db, tmp_path):
    m.save_upload(db, "ann", "a.txt", b"alpha")
    m.save_upload(db, "bob", "a.txt", b"bravo")
    assert m.read_document("ann", "a.txt") == b"alpha"
    assert m.read_document("bob", "a.txt") == b"bravo"
    (tmp_path / "outside.txt").write_bytes(b"secret")
    with pytest.raises(ValueError):
        m.read_document("ann", "../../outside.txt")


def test_list_documents_sorted_and_per_owner(base, db):
    m.save_upload(db, "ann", "b.txt", b"22")
    m.save_upload(db, "ann", "a.txt", b"1")
    m.save_upload(db, "bob", "c.txt", b"333")
    assert m.list_documents(db, "ann") == [
        ("a.txt", 1, m.checksum(b"1")), ("b.txt", 2, m.checksum(b"22")),
    ]
    assert [r[0] for r in m.list_documents(db, "bob")] == ["c.txt"]
    assert m.list_documents(db, "cat") == []


def test_render_listing_sizes_round_up():
    digest = "0123456789abcdef" * 4
    rows = [("a", 0, digest), ("b", 1, digest), ("c", 1024, digest), ("d", 1025, digest)]
    html = m.render_listing("ann", rows)
    assert html == (
        "<h2>Documents of ann</h2><ul>"
        "<li>a (0 KiB) <code>0123456789ab</code></li>"
        "<li>b (1 KiB) <code>0123456789ab</code></li>"
        "<li>c (1 KiB) <code>0123456789ab</code></li>"
        "<li>d (2 KiB) <code>0123456789ab</code></li></ul>"
    )
    assert m.render_listing("bob", []) == "<h2>Documents of bob</h2><ul></ul>"


def test_render_listing_escapes_names_and_owner():
    html = m.render_listing("<b>ann</b>", [("<img src=x onerror=alert(1)>.txt", 2048, "f" * 64)])
    assert "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.txt (2 KiB)" in html
    assert "Documents of &lt;b&gt;ann&lt;/b&gt;" in html
    assert "<code>&lt;i&gt;" in m.render_listing("ann", [("a", 1, "<i>" + "0" * 61)])


def test_share_round_trip_and_expiry(base, db):
    m.save_upload(db, "ann", "a.txt", b"alpha")
    token = m.create_share(db, "ann", "a.txt", NOW)
    assert len(token) >= 32
    expires = db.execute("SELECT expires FROM shares WHERE token = ?", (token,)).fetchone()[0]
    assert expires == NOW + 7 * 24 * 3600
    assert m.open_share(db, token, NOW) == b"alpha"
    assert m.open_share(db, token, expires - 1) == b"alpha"
    assert m.open_share(db, token, expires) is None
    assert m.open_share(db, "nope", NOW) is None
    assert m.create_share(db, "ann", "a.txt", NOW) != token


def test_share_reads_owner_folder(base, db):
    m.save_upload(db, "ann", "a.txt", b"alpha")
    m.save_upload(db, "bob", "a.txt", b"bravo")
    token = m.create_share(db, "bob", "a.txt", NOW)
    assert m.open_share(db, token, NOW) == b"bravo"


def test_spot_check_finds_changed_files(base, db):
    for name in ("c.txt", "a.txt", "b.txt"):
        m.save_upload(db, "ann", name, name.encode())
    m.save_upload(db, "bob", "z.txt", b"z")
    (base / "ann" / "c.txt").write_bytes(b"tampered")
    (base / "ann" / "a.txt").write_bytes(b"tampered")
    (base / "bob" / "z.txt").write_bytes(b"tampered")
    assert m.spot_check(db, "ann", k=5, rng=random.Random(1)) == ["a.txt", "c.txt"]
    assert m.spot_check(db, "ann", k=3, rng=random.Random(1)) == ["a.txt", "c.txt"]
    assert m.spot_check(db, "ann", k=0, rng=random.Random(1)) == []
    assert m.spot_check(db, "cat") == []


def test_spot_check_sample_size(base, db):
    for i in range(6):
        m.save_upload(db, "ann", f"{i}.txt", b"same")
    for i in range(6):
        (base / "ann" / f"{i}.txt").write_bytes(b"changed")
    assert len(m.spot_check(db, "ann", k=2, rng=random.Random(3))) == 2
    assert len(m.spot_check(db, "ann", rng=random.Random(3))) == 3
    assert len(m.spot_check(db, "ann", k=6, rng=random.Random(3))) == 6


def test_export_archive_runs_tar_on_owner_folder(base, db, monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(m.subprocess, "run", lambda argv, **kw: calls.append((argv, kw)))
    monkeypatch.setattr(m.tempfile, "tempdir", str(tmp_path))
    m.save_upload(db, "ann", "a.txt", b"alpha")
    archive = m.export_archive(ADMIN, "ann")
    assert archive.endswith(".tar.gz") and os.path.exists(archive)
    assert os.path.dirname(archive) == str(tmp_path)
    assert calls == [(["tar", "-czf", archive, str(base / "ann")], {"check": True})]


def test_export_archive_admin_only(base, monkeypatch):
    monkeypatch.setattr(m.subprocess, "run", lambda *a, **kw: pytest.fail("must not run"))
    with pytest.raises(PermissionError):
        m.export_archive(CLERK, "ann")
    with pytest.raises(ValueError):
        m.export_archive(ADMIN, "../..")


def test_purge_owner(base, db):
    m.save_upload(db, "ann", "a.txt", b"1")
    m.save_upload(db, "ann", "b.txt", b"2")
    m.save_upload(db, "bob", "a.txt", b"3")
    m.create_share(db, "ann", "a.txt", NOW)
    bob_token = m.create_share(db, "bob", "a.txt", NOW)
    with pytest.raises(PermissionError):
        m.purge_owner(db, CLERK, "ann")
    assert m.purge_owner(db, ADMIN, "ann") == 2
    assert m.list_documents(db, "ann") == []
    assert [r[0] for r in db.execute("SELECT token FROM shares")] == [bob_token]
    assert m.purge_owner(db, ADMIN, "ann") == 0
