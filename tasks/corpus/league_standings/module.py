"""Standings of a round-robin football league: the points table and its tie-breakers, fixtures,
recent form, promotion and relegation zones, and whether a team is already sure of promotion."""

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Scoring:
    """Points per result: 3-1-0 in football; basketball-style leagues give a point for a loss."""
    win: int = 3
    draw: int = 1
    loss: int = 0


@dataclass(frozen=True)
class Match:
    matchday: int
    home: str
    away: str
    home_goals: int | None = None  # None until the match is played
    away_goals: int | None = None


def outcome(scored: int, conceded: int) -> str:
    if scored > conceded:
        return "W"
    if scored == conceded:
        return "D"
    return "L"


def record(row: dict, scored: int, conceded: int, scoring: Scoring) -> None:
    row["played"] += 1
    row["goals_for"] += scored
    row["goals_against"] += conceded
    result = outcome(scored, conceded)
    if result == "W":
        row["won"] += 1
        row["points"] += scoring.win
    elif result == "D":
        row["drawn"] += 1
        row["points"] += scoring.draw
    else:
        row["lost"] += 1
        row["points"] += scoring.loss


def build_table(teams: Iterable[str], matches: list[Match], scoring: Scoring = Scoring(), deductions: dict | None = None) -> dict:
    """One row per team from the played matches, less any points the league deducted."""
    table = {team: {"team": team, "played": 0, "won": 0, "drawn": 0, "lost": 0,
                    "goals_for": 0, "goals_against": 0, "points": 0} for team in teams}
    for match in matches:
        if match.home_goals is None or match.away_goals is None:
            continue
        if match.home not in table or match.away not in table:
            raise ValueError(f"{match.home} v {match.away}: team not in the league")
        record(table[match.home], match.home_goals, match.away_goals, scoring)
        record(table[match.away], match.away_goals, match.home_goals, scoring)
    for team, points in (deductions or {}).items():
        table[team]["points"] -= points
    return table


def overall_key(row: dict) -> tuple[int, int, int]:
    """Points, then goal difference, then goals scored: higher is better."""
    return row["points"], row["goals_for"] - row["goals_against"], row["goals_for"]


def break_tie(tied: list[dict], matches: list[Match], scoring: Scoring) -> list[dict]:
    """Level teams ordered by the same criteria over their matches against each other, then by name."""
    group = {row["team"] for row in tied}
    among = []
    for match in matches:
        if match.home in group and match.away in group:
            among.append(match)
    mini = build_table(group, among, scoring)
    by_name = sorted(tied, key=lambda row: row["team"])
    return sorted(by_name, key=lambda row: overall_key(mini[row["team"]]), reverse=True)


def standings(teams: Iterable[str], matches: list[Match], scoring: Scoring = Scoring(), deductions: dict | None = None) -> list[dict]:
    table = build_table(teams, matches, scoring, deductions)
    ordered = sorted(table.values(), key=overall_key, reverse=True)
    ranked = []
    start = 0
    while start < len(ordered):
        end = start + 1
        while end < len(ordered) and overall_key(ordered[end]) == overall_key(ordered[start]):
            end += 1
        tied = ordered[start:end]
        if len(tied) > 1:
            tied = break_tie(tied, matches, scoring)
        ranked.extend(tied)
        start = end
    for position, row in enumerate(ranked, start=1):
        row["position"] = position
    return ranked


def form(team: str, matches: list[Match], last: int = 5) -> str:
    """The team's most recent ``last`` results, oldest first, such as "WWDLW"."""
    letters = []
    for match in sorted(matches, key=lambda match: match.matchday):
        if match.home_goals is None or match.away_goals is None:
            continue
        if match.home == team:
            letters.append(outcome(match.home_goals, match.away_goals))
        elif match.away == team:
            letters.append(outcome(match.away_goals, match.home_goals))
    return "".join(letters[max(0, len(letters) - last):])


def round_robin(teams: list[str], double: bool = True) -> list[list[tuple[str, str]]]:
    """(home, away) pairs by round, circle method: all meet once, or home and away when ``double``;
    with an odd number of teams one team rests each round."""
    field = list(teams)
    if len(field) % 2:
        field.append(None)
    size = len(field)
    rounds = []
    for number in range(size - 1):
        pairs = []
        for i in range(size // 2):
            home, away = field[i], field[size - 1 - i]
            if i == 0 and number % 2 == 1:
                home, away = away, home
            if home is not None and away is not None:
                pairs.append((home, away))
        rounds.append(pairs)
        field = [field[0], field[-1]] + field[1:-1]
    if double:
        rounds += [[(away, home) for home, away in pairs] for pairs in rounds]
    return rounds


def zones(ranked: list[dict], promoted: int = 2, playoff: int = 4, relegated: int = 3) -> dict[str, str]:
    """Each team's zone by position: promotion, the play-off places, relegation, or safe."""
    size = len(ranked)
    if promoted + playoff + relegated > size:
        raise ValueError("the zones overlap")
    marks = {}
    for position, row in enumerate(ranked, start=1):
        if position <= promoted:
            marks[row["team"]] = "promoted"
        elif position <= promoted + playoff:
            marks[row["team"]] = "playoff"
        elif position > size - relegated:
            marks[row["team"]] = "relegated"
        else:
            marks[row["team"]] = "safe"
    return marks


def max_points(row: dict, games_per_team: int, scoring: Scoring = Scoring()) -> int:
    remaining = max(0, games_per_team - row["played"])
    return row["points"] + remaining * scoring.win


def promotion_certain(ranked: list[dict], team: str, promoted: int, games_per_team: int, scoring: Scoring = Scoring()) -> bool:
    """True once fewer than ``promoted`` rivals can still reach ``team``'s points (or tie them)."""
    points = next(row["points"] for row in ranked if row["team"] == team)
    rivals = 0
    for row in ranked:
        if row["team"] == team:
            continue
        reachable = max_points(row, games_per_team, scoring)
        if reachable >= points:
            rivals += 1
    return rivals < promoted
