#!/usr/bin/env python3
"""Sums PostgreSQL's per-statement durations from a server log written with
log_min_duration_statement = 0, grouped by statement text, to see where a benchmark's
database time goes (docs/BENCHMARKS.md, "Where the relay's PostgreSQL time goes").

usage: pg-statement-profile.py LOGFILE [RUNS] [EXCLUDE_SUBSTRING ...]
  RUNS divides the totals (per benchmark run); EXCLUDE_SUBSTRINGs drop statements that
  contain them (for example the baseline's tables).
"""
import collections
import re
import sys

LINE = re.compile(r'duration: ([0-9.]+) ms  (parse|bind|execute|statement)[^:]*: (.*)')


def main():
    log = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    exclude = sys.argv[3:]
    total = collections.defaultdict(float)
    count = collections.Counter()
    with open(log, errors='replace') as f:
        for line in f:
            m = LINE.search(line)
            if not m:
                continue
            sql = re.sub(r'\s+', ' ', m.group(3))
            if any(x in sql for x in exclude):
                continue
            # Tables numbered per run (bench0, bench1, ...) are one statement.
            key = m.group(2) + ' | ' + re.sub(r'([a-z_]+)\d+\b', r'\1N', sql)[:100]
            total[key] += float(m.group(1))
            count[key] += 1
    print(f"total {sum(total.values()) / runs:.1f} ms per run")
    for key, ms in sorted(total.items(), key=lambda kv: -kv[1])[:25]:
        print(f"{ms / runs:9.1f} ms/run {count[key]:8d}x  {key}")


if __name__ == '__main__':
    main()
