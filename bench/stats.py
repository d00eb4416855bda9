"""Summaries of repeated measurements."""


def median(xs):
    s = sorted(xs)
    if not s:
        raise ValueError("no measurements")
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def percentile(xs, p):
    """Nearest-rank percentile (p in 0..100): a value that was measured."""
    s = sorted(xs)
    if not s:
        raise ValueError("no measurements")
    k = max(0, min(len(s) - 1, -(-len(s) * p // 100) - 1))
    return s[int(k)]


def ratio(a, b):
    return a / b if b else float("nan")


def paired_ratio(a_rounds, b_rounds):
    """Median over rounds of (median of a's runs / median of b's runs) in the same round: the
    load other processes put on a shared machine drifts, and a round's ways run side by side."""
    rs = [ratio(median(a), median(b)) for a, b in zip(a_rounds, b_rounds) if a and b]
    return median(rs) if rs else float("nan")
