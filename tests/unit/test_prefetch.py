"""Read-ahead keeps order, surfaces errors, and stops its thread when the consumer stops."""

import threading

import pytest

from sources.common.prefetch import prefetch


def test_items_arrive_in_order():
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))


def test_an_error_in_the_source_is_raised_in_the_consumer_after_earlier_items():
    def pages():
        yield 1
        yield 2
        raise ValueError("page 3 is malformed")

    seen = []
    with pytest.raises(ValueError, match="page 3"):
        for item in prefetch(pages()):
            seen.append(item)
    assert seen == [1, 2]


def test_stopping_early_stops_the_worker():
    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    gen = prefetch(endless(), depth=2)
    assert next(gen) == 0
    gen.close()
    count = len(produced)
    assert count < 10
    assert not [t for t in threading.enumerate() if t.name == "prefetch" and t.is_alive()]
