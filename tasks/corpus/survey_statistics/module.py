"""Descriptive statistics for survey results: averages, spread, percentiles and scores.

Responses are dicts mapping question ids to answers; rating answers are integers.
"""
import math
from collections import Counter


def mean(values: list[float]) -> float:
    if not values:
        raise ValueError("mean of no values")
    total = 0
    for value in values:
        total += value
    return total / len(values)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("median of no values")
    middle = n // 2
    if n % 2 == 1:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (the spreadsheet PERCENTILE.INC rule)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def sample_variance(values: list[float]) -> float:
    """Variance with Bessel's correction (divides by n - 1)."""
    if len(values) < 2:
        return 0.0
    centre = mean(values)
    squares = 0.0
    for value in values:
        squares += (value - centre) ** 2
    return squares / (len(values) - 1)


def mode(values: list[int]) -> int | None:
    """Most frequent answer; on a tie the smallest answer wins."""
    counts = Counter(values)
    best = None
    for value in sorted(counts):
        if best is None or counts[value] > counts[best]:
            best = value
    return best


def histogram(values: list[float], low: float, high: float, bins: int) -> list[int]:
    """Counts per equal-width bin over [low, high]; the top edge falls in the last bin."""
    counts = [0] * bins
    width = (high - low) / bins
    for value in values:
        if value < low or value > high:
            continue
        index = min(int((value - low) / width), bins - 1)
        counts[index] += 1
    return counts


def top_box_share(ratings: list[int], scale: int = 5, box: int = 2) -> float:
    """Share (0-1) of ratings in the top `box` points of the scale, e.g. 4 and 5 of 5."""
    if not ratings:
        return 0.0
    hits = 0
    for rating in ratings:
        if rating > scale - box:
            hits += 1
    return hits / len(ratings)


def net_promoter_score(scores: list[int]) -> int:
    """Promoters (9-10) minus detractors (0-6) in whole percent, rounded toward zero."""
    if not scores:
        return 0
    promoters = sum(1 for score in scores if score >= 9)
    detractors = sum(1 for score in scores if score <= 6)
    return int((promoters - detractors) * 100 / len(scores))


def complete_responses(responses: list[dict], required: list, kept: list | None = None) -> list:
    """Responses answering every required question, appended to kept (to pool survey waves)."""
    if kept is None:
        kept = []
    for response in responses:
        if all(response.get(q) not in (None, "") for q in required):
            kept.append(response)
    return kept


def crosstab(responses: list[dict], row_q: str, col_q: str) -> dict[str, dict[str, int]]:
    """Counts of answer pairs: table[row answer][column answer]."""
    table = {}
    for response in responses:
        row = table.setdefault(response[row_q], {})
        row[response[col_q]] = row.get(response[col_q], 0) + 1
    return table


def moving_average(values: list[float], window: int) -> list[float]:
    """Mean of each full window of consecutive values (for daily response counts)."""
    averages = []
    for start in range(len(values) - window + 1):
        averages.append(sum(values[start:start + window]) / window)
    return averages
