"""Adaptive retransmission (RFC 6298 with Karn's rule), on a controlled clock.

A transfer's timer methods are driven by recorded round trips: no socket and no wall clock,
so the counts are the same on an idle and on a busy machine.
"""

import random
import socket
import types

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import _tftp_session, tftp


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(_tftp_session, "time", types.SimpleNamespace(monotonic=fake))
    return fake


def transfer(timeout=1.0, retries=50):
    client = types.SimpleNamespace(
        host="127.0.0.1",
        port=69,
        timeout=timeout,
        retries=retries,
        total_timeout=None,
        rollover=0,
        resolve=lambda: (socket.AF_INET, ("127.0.0.1", 69)),
    )
    return _tftp_session.Transfer(client, "image.bin", None)


def exchange(clock, transfer, rtt, adaptive=True):
    """One lock-step exchange whose answer takes ``rtt``: the retransmissions it cost.

    As the client does it: a timer that runs out sends again and backs off; an answer to a
    packet sent once is a round-trip sample, an answer after a retransmission is not.
    ``adaptive=False`` is the client before: a fixed first wait, back to it on progress.
    """
    started, waited, retransmissions = clock.now, 0.0, 0
    while rtt > waited + transfer.wait:
        waited += transfer.wait
        clock.now = started + waited
        transfer.timed_out()
        retransmissions += 1
    clock.now = started + rtt
    if retransmissions:
        transfer.progress()
    if not adaptive:
        transfer.wait = transfer.base_wait  # before: back to the fixed timeout on progress
    elif not retransmissions:
        transfer.measured(rtt)
    return retransmissions


def replay(clock, rtts, adaptive=True, timeout=1.0):
    moving = transfer(timeout)
    return sum(exchange(clock, moving, rtt, adaptive) for rtt in rtts)


def jittery_path(rtt, count, seed=1, pause_every=500, pause=0.15):
    """Round trips of a clean path: jitter, and now and then a peer that pauses."""
    draw = random.Random(seed)
    return [
        rtt + draw.expovariate(1 / (rtt / 10)) + (pause if index % pause_every == 7 else 0.0)
        for index in range(count)
    ]


def within_a_step(rto):
    """The wait moves in steps (each change is a system call): rounded up to the next one."""
    half = _tftp_session.RTO_STEP / 2
    return pytest.approx(rto + half, abs=half + 1e-9)


def test_first_wait_is_the_timeout_until_a_round_trip_is_measured():
    timer = _tftp_session.RetransmissionTimer(1.5)
    assert timer.rto == 1.5
    assert timer.sample(0.4) == within_a_step(0.4 + 4 * 0.2)  # RFC 6298 (2.2)


def test_wait_follows_rfc_6298_and_stays_within_the_floor_and_the_timeout():
    timer = _tftp_session.RetransmissionTimer(2.0)
    timer.sample(0.3)
    timer.sample(0.5)  # (2.3): RTTVAR from the old SRTT, then SRTT
    assert timer.rttvar == pytest.approx(0.75 * 0.15 + 0.25 * 0.2)
    assert timer.srtt == pytest.approx(0.875 * 0.3 + 0.125 * 0.5)
    assert timer.rto == within_a_step(timer.srtt + 4 * timer.rttvar)
    for _sample in range(100):
        timer.sample(0.02)
    # a steady path waits its round trip and the allowance for a pause, not less
    assert timer.rto == within_a_step(0.02 + tftp.MIN_RTO)
    for _sample in range(50):
        timer.sample(3.0)
    assert timer.rto == 2.0  # a slow path waits the user's timeout, not more


def test_wait_is_the_timeout_when_the_user_asks_for_less_than_the_allowance():
    timer = _tftp_session.RetransmissionTimer(0.05)
    for _sample in range(20):
        timer.sample(0.0001)
    assert timer.rto == 0.05


def test_answer_to_a_retransmitted_packet_is_no_sample_and_the_wait_stays_backed_off(clock):
    moving = transfer()
    first = moving.measured(0.02) or moving.wait
    moving.timed_out()
    assert moving.wait == 2 * first
    moving.progress()  # answered after the copy went: which one is answered is unknown
    assert moving.wait == 2 * first
    moving.measured(0.02)  # the next packet, sent once, is answered
    assert moving.wait == first


def test_back_off_doubles_from_the_measured_wait_up_to_16_times_the_timeout(clock):
    moving = transfer(timeout=1.0)
    moving.timer.sample(0.05)
    moving.measured(0.05)
    first = moving.wait
    assert first == within_a_step(0.25)  # 0.05 + the pause allowance (RTTVAR has shrunk)
    waits = []
    for _sample in range(9):
        moving.timed_out()
        waits.append(moving.wait)
    assert waits == pytest.approx([0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 16.0, 16.0, 16.0])


@pytest.mark.parametrize("rtt", [0.00005, 0.02, 0.08, 0.3, 0.6])
def test_clean_path_has_no_more_false_retransmissions_than_a_fixed_timeout(clock, rtt):
    rtts = jittery_path(rtt, 5000)
    assert replay(clock, rtts) <= replay(clock, rtts, adaptive=False)  # 0 up to 80 ms


@pytest.mark.parametrize("rtt", [0.00005, 0.02, 0.08])
def test_fast_clean_path_with_pauses_below_the_allowance_has_no_retransmission(clock, rtt):
    assert replay(clock, jittery_path(rtt, 5000)) == 0


def test_path_that_slows_down_thirtyfold_costs_two_retransmissions_more(clock):
    # Karn's rule keeps the backed-off wait until a packet sent once is answered: without
    # it every packet after the change would time out once.
    rtts = jittery_path(0.02, 1000) + jittery_path(0.6, 1000, seed=2)
    assert replay(clock, rtts) <= replay(clock, rtts, adaptive=False) + 2


def test_lost_packet_costs_a_few_round_trips_not_the_timeout(clock):
    moving = transfer(timeout=1.0)
    for rtt in jittery_path(0.02, 100):
        exchange(clock, moving, rtt)
    first_wait = moving.wait
    moving.timed_out()  # the packet was lost: the wait ran out and it goes again
    assert first_wait < 0.3  # 20 ms and the pause allowance; with a fixed timeout: 1 s
    assert moving.wait == 2 * first_wait
