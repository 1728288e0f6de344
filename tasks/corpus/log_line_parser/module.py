"""Parse web access logs (common log format plus request time) and key=value app log lines."""
import math
import re
import shlex
from collections import Counter
from datetime import datetime
from typing import NamedTuple

_CLIENT = r'(?P<host>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] '
_REQUEST = r'"(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) (?P<size>\d+|-)'
ACCESS_RE = re.compile(_CLIENT + _REQUEST + r'(?: (?P<ms>\d+))?$')
TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"
MAX_PATH = 64


class Entry(NamedTuple):
    host: str
    user: str | None
    time: datetime
    method: str
    path: str
    status: int
    size: int
    ms: int | None


def parse_access_line(line: str) -> Entry | None:
    """One access log line, or None when it does not match the format."""
    match = ACCESS_RE.match(line.strip())
    if match is None:
        return None
    user = None if match["user"] == "-" else match["user"]
    size = 0 if match["size"] == "-" else int(match["size"])
    ms = None if match["ms"] is None else int(match["ms"])
    path = match["path"].split("?")[0][:MAX_PATH]
    when = datetime.strptime(match["time"], TIME_FORMAT)
    return Entry(match["host"], user, when, match["method"], path, int(match["status"]), size, ms)


def parse_kv(text: str) -> dict[str, str]:
    """key=value pairs; quoted values may hold spaces; the first occurrence of a key wins."""
    pairs = {}
    for token in shlex.split(text):
        key, sep, value = token.partition("=")
        if sep and key and key not in pairs:
            pairs[key] = value
    return pairs


def parse_lines(lines: list[str]) -> tuple[list[Entry], int]:
    """Parsed entries and the number of malformed lines; blanks and comments are skipped."""
    entries = []
    bad = 0
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        entry = parse_access_line(line)
        if entry is None:
            bad += 1
        else:
            entries.append(entry)
    return entries, bad


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def error_rate(entries: list[Entry]) -> float:
    """Share of responses with a 5xx status; 0.0 when there are no entries."""
    if not entries:
        return 0.0
    errors = 0
    for entry in entries:
        if entry.status >= 500:
            errors += 1
    return errors / len(entries)


def top_paths(entries: list[Entry], n: int = 3) -> list[tuple[str, int]]:
    """Most requested paths with counts; ties are broken alphabetically."""
    counts = Counter(entry.path for entry in entries)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:n]


def bytes_by_host(entries: list[Entry]) -> dict[str, int]:
    totals = {}
    for entry in entries:
        totals[entry.host] = totals.get(entry.host, 0) + entry.size
    return totals


def p95_latency(entries: list[Entry]) -> int | None:
    """95th percentile request time (nearest rank); entries without timing are ignored."""
    times = sorted(entry.ms for entry in entries if entry.ms is not None)
    if not times:
        return None
    rank = math.ceil(0.95 * len(times))
    return times[rank - 1]


def first_server_error(entries: list[Entry]) -> Entry | None:
    for entry in entries:
        if entry.status >= 500:
            return entry
    return None


def count_sessions(times: list[datetime], gap_minutes: int = 30) -> int:
    """Visits separated by more than gap_minutes of inactivity are separate sessions."""
    if not times:
        return 0
    ordered = sorted(times)
    sessions = 1
    for index in range(1, len(ordered)):
        if (ordered[index] - ordered[index - 1]).total_seconds() > gap_minutes * 60:
            sessions += 1
    return sessions
