"""Parse sales report CSV exports and summarise them per region and product."""

import csv
from typing import NamedTuple

REQUIRED_COLUMNS = ("date", "region", "product", "units", "price")


class Row(NamedTuple):
    date: str
    region: str
    product: str
    units: int
    price_cents: int


class ParseError(ValueError):
    """A report line or header could not be parsed."""


def sniff_delimiter(header_line: str) -> str:
    """Use ';' or a tab instead of ',' when the header contains more of them."""
    best = ","
    for candidate in (";", "\t"):
        if header_line.count(candidate) > header_line.count(best):
            best = candidate
    return best


def parse_price(text: str) -> int:
    """'12', '12.5' or '12.50' -> cents. Prices are non-negative with at most two decimals."""
    whole, _, frac = text.strip().partition(".")
    if whole.startswith("-") or len(frac) > 2:
        raise ParseError(f"bad price {text!r}")
    return int(whole) * 100 + int(frac.ljust(2, "0"))


def column_index(header: list[str]) -> dict[str, int]:
    """Position of every required column; header names are matched case-insensitively."""
    names = [name.strip().lower() for name in header]
    index = {}
    for column in REQUIRED_COLUMNS:
        if column not in names:
            raise ParseError(f"missing column {column}")
        index[column] = names.index(column)
    return index


def parse_report(text: str) -> tuple[list[Row], list[str]]:
    """Parse a report into rows plus 'line N: ...' errors (N is the 1-based file line)."""
    lines = text.splitlines()
    if not lines:
        return [], []
    records = list(csv.reader(lines, delimiter=sniff_delimiter(lines[0])))
    index = column_index(records[0])
    rows, errors = [], []
    for number in range(1, len(records)):
        record = records[number]
        if not any(cell.strip() for cell in record):
            continue
        try:
            units = int(record[index["units"]])
            price = parse_price(record[index["price"]])
        except (ValueError, IndexError) as exc:
            errors.append(f"line {number + 1}: {exc}")
            continue
        region, product = record[index["region"]].strip(), record[index["product"]].strip()
        rows.append(Row(record[index["date"]].strip(), region, product, units, price))
    return rows, errors


def totals_by(rows: list[Row], field: str) -> dict[str, int]:
    """Revenue in cents grouped by a Row field such as 'region' or 'product'."""
    totals: dict[str, int] = {}
    for row in rows:
        group = getattr(row, field)
        totals[group] = totals.get(group, 0) + row.units * row.price_cents
    return totals


def top_products(rows: list[Row], n: int = 3) -> list[tuple[str, int]]:
    """The n products with the most units sold; ties are broken alphabetically."""
    units: dict[str, int] = {}
    for row in rows:
        units[row.product] = units.get(row.product, 0) + row.units
    return sorted(units.items(), key=lambda item: (-item[1], item[0]))[:n]


def median_price(rows: list[Row]) -> float | None:
    """Median unit price in cents (None for no rows)."""
    prices = sorted(row.price_cents for row in rows)
    if not prices:
        return None
    middle = len(prices) // 2
    if len(prices) % 2 == 1:
        return float(prices[middle])
    return (prices[middle - 1] + prices[middle]) / 2


def filter_rows(rows: list[Row], region: str | None = None, min_units: int = 0) -> list[Row]:
    """Rows of one region (or all regions) with at least min_units units."""
    result = []
    for row in rows:
        if region is not None and row.region != region:
            continue
        if row.units >= min_units:
            result.append(row)
    return result


def format_summary(totals: dict[str, int], width: int = 12, lines: list | None = None) -> list:
    """Append 'name   euros.cents' lines sorted by name; names are cut to width characters."""
    if lines is None:
        lines = []
    for name in sorted(totals):
        cents = totals[name]
        lines.append(f"{name[:width]:<{width}} {cents // 100}.{cents % 100:02d}")
    return lines
