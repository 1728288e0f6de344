import csv
import os
import sqlite3
from types import SimpleNamespace

import pytest

import module as m


@pytest.fixture
def base(tmp_path, monkeypatch):
    folder = tmp_path / "exports"
    folder.mkdir()
    monkeypatch.setattr(m, "BASE_DIR", str(folder))
    return folder


@pytest.fixture
def conn():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE orders (id INTEGER, customer TEXT, region TEXT, day TEXT, cents INT)")
    db.execute("CREATE TABLE downloads (token TEXT, filename TEXT, owner TEXT, expires INT)")
    rows = [
        (1, "ann", "north", "2024-01-01", 1000),
        (2, "bob", "south", "2024-01-15", 250),
        (3, "ann", "north", "2024-01-31", 500),
        (4, "cid", "east", "2024-02-01", 700),
        (5, "dan", "south", "2023-12-31", 900),
    ]
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", rows)
    yield db
    db.close()


def test_resolve_inside_accepts_nested(tmp_path):
    base = str(tmp_path)
    assert m.resolve_inside(base, "a.csv") == os.path.join(os.path.realpath(base), "a.csv")
    assert m.resolve_inside(base, "2024/a.csv").endswith(os.path.join("2024", "a.csv"))
    assert m.resolve_inside(base, "x/../b.csv") == os.path.join(os.path.realpath(base), "b.csv")


def test_resolve_inside_rejects_escape(tmp_path):
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path / "inner"), "../secret.txt")
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path), "/etc/passwd")


def test_sales_by_region_inclusive_range(conn):
    result = m.sales_by_region(conn, "2024-01-01", "2024-01-31")
    assert result == [("north", 1500), ("south", 250)]


def test_sales_by_region_sorted_and_empty(conn):
    result = m.sales_by_region(conn, "2023-01-01", "2024-12-31")
    assert result == [("east", 700), ("north", 1500), ("south", 1150)]
    assert m.sales_by_region(conn, "2025-01-01", "2025-12-31") == []
    assert m.sales_by_region(conn, "2024-02-01", "2024-02-01") == [("east", 700)]


def test_render_html_exact():
    page = m.render_html("Q1", [("north", 1500), ("south", 250)], "Ann")
    assert page == "\n".join([
        "<h1>Q1</h1>",
        "<table>",
        "<tr><td>north</td><td>15.00</td></tr>",
        "<tr><td>south</td><td>2.50</td></tr>",
        "<tr><th>Total</th><td>17.50</td></tr></table>",
        "<footer>Prepared by Ann</footer>",
    ])


def test_render_html_escapes_everything():
    page = m.render_html("<b>T</b>", [("<i>r</i>", 1)], "<s>A</s>")
    assert "<b>" not in page and "<i>" not in page and "<s>" not in page
    assert "&lt;b&gt;T&lt;/b&gt;" in page
    assert "&lt;i&gt;r&lt;/i&gt;" in page
    assert "&lt;s&gt;A&lt;/s&gt;" in page


def test_render_html_empty_total():
    page = m.render_html("Empty", [], "x")
    assert "<tr><th>Total</th><td>0.00</td></tr></table>" in page


def test_write_and_read_csv(base):
    path = m.write_csv("sales.csv", ["region", "cents"], [("north", 1500), ("south", 250)])
    assert path == os.path.join(os.path.realpath(base), "sales.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [["region", "cents"], ["north", "1500"], ["south", "250"]]
    assert m.read_export("sales.csv") == b"region,cents\r\nnorth,1500\r\nsouth,250\r\n"


def test_write_and_read_reject_traversal(base):
    with pytest.raises(ValueError):
        m.write_csv("../out.csv", ["a"], [])
    (base.parent / "secret.txt").write_text("x")
    with pytest.raises(ValueError):
        m.read_export("../secret.txt")


def test_compress_export_argv(base, monkeypatch):
    calls = []
    monkeypatch.setattr(m.subprocess, "run", lambda argv, **kw: calls.append((argv, kw)))
    result = m.compress_export("sales.csv")
    expected = os.path.join(os.path.realpath(base), "sales.csv")
    assert result == expected + ".gz"
    assert calls == [(["gzip", "--keep", "--force", expected], {"check": True})]
    with pytest.raises(ValueError):
        m.compress_export("../../etc/passwd")
    assert len(calls) == 1


def test_stage_attachment(tmp_path, monkeypatch):
    monkeypatch.setattr(m.tempfile, "tempdir", str(tmp_path))
    path = m.stage_attachment([("a", 1), ("b", 2)])
    assert path.endswith(".csv")
    assert os.path.dirname(path) == str(tmp_path)
    with open(path, newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [["a", "1"], ["b", "2"]]


def test_download_link_lifecycle(conn, base):
    links = m.DownloadLinks(conn)
    url = links.create("sales.csv", "ann", now=1_000)
    token = url.removeprefix("/downloads/")
    assert url.startswith("/downloads/") and len(token) == 32
    expected = os.path.join(os.path.realpath(base), "sales.csv")
    assert links.resolve(token, now=1_000) == expected
    assert links.resolve(token, now=1_000 + 86_399) == expected
    assert links.resolve(token, now=1_000 + 86_400) is None
    assert links.resolve("nope", now=1_000) is None


def test_download_tokens_unique(conn, base):
    links = m.DownloadLinks(conn)
    assert links.create("a.csv", "ann", 0) != links.create("a.csv", "ann", 0)


def test_purge_owner_requires_admin(conn, base):
    links = m.DownloadLinks(conn)
    links.create("a.csv", "ann", 0)
    links.create("b.csv", "ann", 0)
    links.create("c.csv", "bob", 0)
    with pytest.raises(PermissionError):
        links.purge_owner(SimpleNamespace(is_admin=False), "ann")
    assert links.purge_owner(SimpleNamespace(is_admin=True), "ann") == 2
    assert conn.execute("SELECT owner FROM downloads").fetchall() == [("bob",)]
    assert links.purge_owner(SimpleNamespace(is_admin=True), "ann") == 0


def test_preview_sample():
    rows = list(range(20))
    copy = m.preview_sample(rows, 20)  # exactly k rows: all of them, in order (a shuffle would not be)
    assert copy == rows and copy is not rows
    assert m.preview_sample([1, 2, 3], 5) == [1, 2, 3]
    picked = m.preview_sample(list(range(10)), 4, seed=7)
    assert len(picked) == 4 and len(set(picked)) == 4
    assert picked == m.preview_sample(list(range(10)), 4, seed=7)
    assert len(m.preview_sample(list(range(10)), 9, seed=1)) == 9
