import pytest

import module as m

REPORT = """date,region,product,units,price
2024-01-03,North,Widget,4,2.50
2024-01-04,South,Gadget,1,10
2024-01-05, North ,Gizmo,2,0.5
2024-01-06,East,Widget,3,2.50
"""


def sample_rows():
    return m.parse_report(REPORT)[0]


def test_sniff_delimiter():
    assert m.sniff_delimiter("a,b,c") == ","
    assert m.sniff_delimiter("a;b;c") == ";"
    assert m.sniff_delimiter("a\tb\tc") == "\t"
    assert m.sniff_delimiter("abc") == ","


def test_sniff_delimiter_ties_keep_earlier_choice():
    assert m.sniff_delimiter("a,b;c") == ","
    assert m.sniff_delimiter("a;b\tc") == ";"
    assert m.sniff_delimiter("a,b;c;d") == ";"
    assert m.sniff_delimiter("a;b\tc\td") == "\t"
    assert m.sniff_delimiter("a;b;c\td\te\tf") == "\t"


def test_parse_price():
    assert m.parse_price("12") == 1200
    assert m.parse_price("12.5") == 1250
    assert m.parse_price("12.05") == 1205
    assert m.parse_price(" 0.99 ") == 99
    assert m.parse_price("3.") == 300


def test_parse_price_rejects_bad_values():
    with pytest.raises(m.ParseError):
        m.parse_price("1.234")
    with pytest.raises(m.ParseError):
        m.parse_price("-1.50")
    with pytest.raises(ValueError):
        m.parse_price("abc")


def test_column_index_any_order_and_case():
    header = ["Price", "units ", "PRODUCT", "extra", "Region", "date"]
    assert m.column_index(header) == {"date": 5, "region": 4, "product": 2, "units": 1, "price": 0}


def test_column_index_missing_column():
    with pytest.raises(m.ParseError, match="missing column units"):
        m.column_index(["date", "region", "product", "price"])
    with pytest.raises(m.ParseError, match="missing column price"):
        m.column_index(["date", "region", "product", "units"])


def test_parse_report_rows():
    rows, errors = m.parse_report(REPORT)
    assert errors == []
    assert rows == [
        m.Row("2024-01-03", "North", "Widget", 4, 250),
        m.Row("2024-01-04", "South", "Gadget", 1, 1000),
        m.Row("2024-01-05", "North", "Gizmo", 2, 50),
        m.Row("2024-01-06", "East", "Widget", 3, 250),
    ]


def test_parse_report_semicolon_and_reordered_columns():
    text = "units;price;product;region;date\n5;1.10;Bolt;West;2024-02-01\n"
    assert m.parse_report(text) == ([m.Row("2024-02-01", "West", "Bolt", 5, 110)], [])


def test_parse_report_errors_use_file_line_numbers():
    text = ("date,region,product,units,price\n"
            "2024-01-01,N,A,x,1\n"
            "2024-01-02,N,B,2,1.234\n"
            "2024-01-03,N,C\n"
            "2024-01-04,N,D,1,1\n")
    rows, errors = m.parse_report(text)
    assert [row.product for row in rows] == ["D"]
    assert [e.split(":")[0] for e in errors] == ["line 2", "line 3", "line 4"]


def test_parse_report_skips_blank_lines_and_empty_text():
    text = "date,region,product,units,price\n\n , , \n2024-01-01,N,A,1,1\n"
    rows, errors = m.parse_report(text)
    assert len(rows) == 1 and errors == []
    assert m.parse_report("") == ([], [])
    assert m.parse_report("date,region,product,units,price") == ([], [])


def test_parse_report_first_data_row_kept():
    rows, _ = m.parse_report("date,region,product,units,price\n2024-01-01,N,Only,7,1\n")
    assert rows == [m.Row("2024-01-01", "N", "Only", 7, 100)]


def test_totals_by_region_and_product():
    rows = sample_rows()
    assert m.totals_by(rows, "region") == {"North": 1100, "South": 1000, "East": 750}
    assert m.totals_by(rows, "product") == {"Widget": 1750, "Gadget": 1000, "Gizmo": 100}
    assert m.totals_by([], "region") == {}


def test_top_products_order_and_limit():
    rows = sample_rows()
    assert m.top_products(rows) == [("Widget", 7), ("Gizmo", 2), ("Gadget", 1)]
    assert m.top_products(rows, 1) == [("Widget", 7)]
    assert m.top_products(rows, 2) == [("Widget", 7), ("Gizmo", 2)]


def test_top_products_tie_alphabetical():
    rows = [m.Row("d", "r", "Zed", 2, 1), m.Row("d", "r", "Amp", 2, 1), m.Row("d", "r", "Mid", 3, 1)]
    assert m.top_products(rows, 3) == [("Mid", 3), ("Amp", 2), ("Zed", 2)]


def test_median_price_odd_even_and_empty():
    rows = sample_rows()
    # prices 50, 250, 250, 1000 -> (250 + 250) / 2
    assert m.median_price(rows) == 250.0
    assert m.median_price(rows[:3]) == 250.0
    assert m.median_price(rows[1:3]) == 525.0
    assert m.median_price([m.Row("d", "r", "p", 1, 3), m.Row("d", "r", "p", 1, 4)]) == 3.5
    assert m.median_price([m.Row("d", "r", "p", 1, 7)]) == 7.0
    assert isinstance(m.median_price([m.Row("d", "r", "p", 1, 7)]), float)
    assert m.median_price([]) is None


def test_median_price_three_values_unsorted():
    rows = [m.Row("d", "r", "p", 1, price) for price in (900, 100, 300)]
    assert m.median_price(rows) == 300.0


def test_filter_rows():
    rows = sample_rows()
    assert m.filter_rows(rows) == rows
    assert [r.product for r in m.filter_rows(rows, "North")] == ["Widget", "Gizmo"]
    assert [r.units for r in m.filter_rows(rows, min_units=3)] == [4, 3]
    assert [r.units for r in m.filter_rows(rows, "North", 3)] == [4]
    assert m.filter_rows(rows, "West") == []


def test_format_summary():
    lines = m.format_summary({"South": 1000, "North": 1105, "East": 7})
    assert lines == [
        "East         0.07",
        "North        11.05",
        "South        10.00",
    ]


def test_format_summary_truncates_names_to_width():
    assert m.format_summary({"Northwestern": 250}, width=5) == ["North 2.50"]
    assert m.format_summary({"ab": 100}, width=3) == ["ab  1.00"]


def test_format_summary_appends_and_default_not_shared():
    existing = ["Revenue"]
    assert m.format_summary({"A": 1}, 2, existing) is existing
    assert existing == ["Revenue", "A  0.01"]
    first = m.format_summary({"A": 1}, 2)
    second = m.format_summary({"A": 1}, 2)
    assert first == second == ["A  0.01"]
