"""Course grade book: weighted category averages, dropped scores, late penalties and curves."""

from __future__ import annotations

from statistics import median

WEIGHTS = {"homework": 0.25, "quiz": 0.15, "midterm": 0.25, "final": 0.35}
LETTERS = [(93, "A"), (90, "A-"), (87, "B+"), (83, "B"), (80, "B-"), (70, "C"), (60, "D")]
PASSING = 60

Score = tuple[float, float]  # (points earned, points possible)


def percent(points: float, possible: float) -> float:
    """Score as a percentage; 0.0 for an item worth no points."""
    if possible <= 0:
        return 0.0
    return points / possible * 100


def late_penalty(points: float, days_late: int, per_day: int = 10, max_days: int = 5) -> float:
    """Points after a `per_day` percent deduction per late day; nothing after `max_days`."""
    if days_late <= 0:
        return points
    if days_late > max_days:
        return 0.0
    return points * (100 - per_day * days_late) / 100


def category_average(scores: list[Score], drop_lowest: int = 0) -> float | None:
    """Points-based percentage of a category after dropping its lowest-percentage scores."""
    if len(scores) <= drop_lowest:
        return None
    ordered = sorted(scores, key=lambda score: percent(score[0], score[1]))
    earned = 0.0
    possible = 0.0
    for points, out_of in ordered[drop_lowest:]:
        earned += points
        possible += out_of
    return percent(earned, possible)


def weighted_grade(scores: dict[str, list[Score]], drops: dict[str, int] | None = None) -> float:
    """Course percentage; empty categories are skipped and the other weights renormalised."""
    if drops is None:
        drops = {}
    total = 0.0
    weight_used = 0.0
    for category, weight in WEIGHTS.items():
        average = category_average(scores.get(category, []), drops.get(category, 0))
        if average is None:
            continue
        total += average * weight
        weight_used += weight
    if weight_used == 0:
        return 0.0
    return total / weight_used


def round_half_up(pct: float) -> int:
    """Whole percent, halves rounded up (89.5 -> 90), based on the first decimal."""
    return (int(pct * 10) + 5) // 10


def letter_grade(pct: float) -> str:
    """Letter for a rounded percentage, using the first cutoff that is reached."""
    for cutoff, letter in LETTERS:
        if pct >= cutoff:
            return letter
    return "F"


def curve(grades: dict[str, float], target: float = 100.0, cap: float = 10.0) -> dict[str, float]:
    """Adds the same bonus to everyone so the top grade reaches `target`, at most `cap` points."""
    if not grades:
        return {}
    bonus = min(max(target - max(grades.values()), 0.0), cap)
    return {name: min(grade + bonus, 100.0) for name, grade in grades.items()}


def class_rank(grades: dict[str, float], student: str) -> int:
    """1-based rank of a student; tied students share the better rank."""
    rank = 1
    for other in grades.values():
        if other > grades[student]:
            rank += 1
    return rank


def summary(grades: dict[str, float]) -> dict[str, float]:
    """Mean, median and pass/fail counts for a class."""
    passing = 0
    for grade in grades.values():
        if grade >= PASSING:
            passing += 1
    mean = sum(grades.values()) / len(grades) if grades else 0.0
    middle = median(grades.values()) if grades else 0.0
    return {"mean": mean, "median": middle, "passing": passing, "failing": len(grades) - passing}


def report_line(record: dict) -> str:
    """One line of the printed report: id, name, rounded percentage and letter."""
    pct = round_half_up(weighted_grade(record["scores"], record.get("drops")))
    return f"{record['id']:>6} {record['name']:<12} {pct:>3}% {letter_grade(pct)}"
