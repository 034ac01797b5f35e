"""The collector around bulk work: paused while a batch is written, and what the process held
before a long job kept out of its passes until the job ends."""

import gc
import threading
import weakref

import pytest

from audit.log.bulk import JOB_GC_THRESHOLD, gc_frozen, gc_paused


class Node:
    """Refers to itself: only the cyclic collector frees it."""

    def __init__(self):
        self.me = self


@pytest.fixture(autouse=True)
def collector_as_found():
    gc.collect()  # an import's steps left unfinished by an earlier test end their freeze
    assert gc.isenabled() and gc.get_freeze_count() == 0, "an earlier test left it changed"
    yield
    gc.unfreeze()
    gc.enable()


def test_the_collector_is_paused_in_nested_batches_and_back_on_after_the_last():
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_pause_in_another_thread_keeps_the_collector_off_until_both_end():
    inside, leave = threading.Event(), threading.Event()

    def batch():
        with gc_paused():
            inside.set()
            leave.wait(5)

    other = threading.Thread(target=batch)
    other.start()
    inside.wait(5)
    with gc_paused():
        pass
    assert not gc.isenabled()  # the other batch is still being written
    leave.set()
    other.join()
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off():
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_what_was_held_before_a_job_waits_for_its_end_and_its_own_garbage_does_not():
    before = Node()
    held = weakref.ref(before)
    del before  # garbage, but only the collector can tell
    with gc_frozen():
        assert gc.get_freeze_count() > 0
        with gc_frozen():  # nested, as an import inside another job
            made = Node()
            made_ref = weakref.ref(made)
            del made
            gc.collect()
            assert made_ref() is None
        assert gc.get_freeze_count() > 0  # the outer job still runs
        gc.collect()
        assert held() is not None
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert held() is None


def test_a_job_collects_its_youngest_generation_less_often_and_restores_the_thresholds():
    before = gc.get_threshold()
    assert before[0] < JOB_GC_THRESHOLD
    with gc_frozen():
        assert gc.get_threshold() == (JOB_GC_THRESHOLD, *before[1:])
        with gc_frozen():  # nested: the same until the outer job ends
            assert gc.get_threshold() == (JOB_GC_THRESHOLD, *before[1:])
        assert gc.get_threshold() == (JOB_GC_THRESHOLD, *before[1:])
        # Cycles made meanwhile are still collected, by the collector's own passes, only less
        # often: after as many allocations as the threshold, without a collect() here.
        made = weakref.ref(Node())
        for _ in range(JOB_GC_THRESHOLD):
            Node()
            if made() is None:
                break
        assert made() is None
    assert gc.get_threshold() == before


def test_a_higher_threshold_set_before_a_job_is_kept():
    before = gc.get_threshold()
    try:
        gc.set_threshold(JOB_GC_THRESHOLD * 2, *before[1:])
        with gc_frozen():
            assert gc.get_threshold()[0] == JOB_GC_THRESHOLD * 2
        assert gc.get_threshold()[0] == JOB_GC_THRESHOLD * 2
    finally:
        gc.set_threshold(*before)


def test_objects_a_server_froze_before_stay_frozen():
    before = Node()
    held = weakref.ref(before)
    del before
    gc.freeze()  # as a server may before forking its workers
    with gc_frozen():
        pass
    gc.collect()
    assert held() is not None  # still frozen: the job did not unfreeze the server's objects
