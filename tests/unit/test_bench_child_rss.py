"""Benchmarks measure each side in a spawned child: its peak RSS must be the child's own, not
the parent's (Linux carries ru_maxrss across exec, so a parent holding a lot at the moment it
spawns would be reported as the child's peak)."""

from bench.common import measure_in_child


def test_a_spawned_child_reports_its_own_peak_rss_not_its_parents():
    ballast = b"x" * (512 * 1024 * 1024)  # resident in the parent while it spawns
    try:
        out = measure_in_child(dict)
    finally:
        del ballast
    assert 0 < out["peak_rss_mb"] < 256
