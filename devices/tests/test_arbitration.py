"""Zone arbitration (pure): two read points without flapping, late and out-of-order
reads, dwell, hysteresis decay, and state that survives a save and reload."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.pipeline.arbitration import APPLIED, DUPLICATE, LATE, STALE, Arbiter, ZoneParams
from devices.pipeline.dedupe import aggregate

A, B = 1, 2
DEFAULT = ZoneParams()


def params_of(**by_zone):
    table = {int(k.removeprefix("z")): v for k, v in by_zone.items()}
    return lambda z: table.get(z, DEFAULT)


def same(_zone):
    return DEFAULT


def feed(arb, reads, params=same):
    """reads: [(zone, t ms, rssi, count)] -> list of moves."""
    moves = []
    for zone, t, rssi, n in reads:
        _, move = arb.observe(zone, t, rssi, n, params)
        if move is not None:
            moves.append(move)
    return moves


def test_first_zone_needs_two_reads():
    arb = Arbiter()
    assert feed(arb, [(A, 1000, -50.0, 1)]) == []
    (move,) = feed(arb, [(A, 1200, -51.0, 1)])
    assert (move.from_zone, move.to_zone, move.at) == (None, A, 1200)
    assert arb.zone == A and arb.since == 1200


def test_a_single_report_of_several_reads_is_enough():
    arb = Arbiter()
    (move,) = feed(arb, [(A, 1000, -50.0, 7)])
    assert move.to_zone == A


def test_tag_heard_by_two_read_points_does_not_flap():
    """A tag at A (about -52 dBm) is heard by B's antenna too (about -64), with noise
    and occasional spikes at B above the A reading: it stays at A."""
    rng = random.Random(3)
    arb = Arbiter()
    reads = []
    for i in range(600):  # one minute, 10 reads/s alternating antennas
        t = 1000 + i * 100
        if i % 2:
            reads.append((A, t, -52 + rng.uniform(-4, 4), 1))
        else:
            spike = 10 if rng.random() < 0.05 else 0
            reads.append((B, t, -64 + rng.uniform(-4, 4) + spike, 1))
    moves = feed(arb, reads)
    assert [m.to_zone for m in moves] == [A]


def test_real_move_is_followed_once():
    arb = Arbiter()
    reads = [(A, 1000 + i * 100, -50.0, 1) for i in range(30)]  # at A until 3.9 s
    reads += [(B, 4000 + i * 100, -50.0, 1) for i in range(150)]  # then next to B only, as strong
    moves = feed(arb, reads)
    assert [(m.from_zone, m.to_zone) for m in moves] == [(None, A), (A, B)]
    # As strong as it was at A: it moves once A's 10 s window has emptied.
    assert 13_900 <= moves[1].at <= 14_100


def test_stronger_new_zone_wins_without_waiting_for_the_window():
    arb = Arbiter()
    feed(arb, [(A, 1000 + i * 100, -60.0, 1) for i in range(30)])
    (move,) = feed(arb, [(B, 4000 + i * 100, -45.0, 1) for i in range(5)])
    assert move.to_zone == B and move.at < 5000


def test_hysteresis_offset_decays_after_the_hold_off():
    arb = Arbiter()
    feed(arb, [(A, 1000, -60.0, 2)])  # settled at A at t=1000
    # B is 3 dB stronger right away: within the hold-off the 6 dB offset holds.
    assert feed(arb, [(B, 1100, -57.0, 2)]) == []
    # 500 ms hold-off + 375 ms at 0.008 dB/ms = 3 dB decayed: still not enough at exactly 3 dB.
    assert feed(arb, [(B, 1875, -57.0, 2)]) == []
    # A little later the offset is below 3 dB: B wins.
    (move,) = feed(arb, [(B, 2100, -57.0, 2)])
    assert move.to_zone == B


def test_dwell_delays_the_move_and_dates_it_from_the_lead():
    params = params_of(z2=ZoneParams(dwell_ms=2000))
    arb = Arbiter()
    feed(arb, [(A, 0, -50.0, 5)], params)
    # From t=5000 only B hears the tag (A's window empties after 10 s).
    reads = [(B, 11_000 + i * 250, -55.0, 1) for i in range(6)]  # 11.0 .. 12.25 s: not 2 s yet
    assert feed(arb, reads, params) == []
    assert feed(arb, [(B, 13_100, -55.0, 1)], params) == []  # led since 11.25 s: 1.85 s
    (move,) = feed(arb, [(B, 13_300, -55.0, 1)], params)
    assert move.to_zone == B and move.at == 11_250  # dated from when B first led with 2 reads


def test_dwell_resets_when_the_challenger_loses_the_lead():
    params = params_of(z2=ZoneParams(dwell_ms=2000))
    arb = Arbiter()
    feed(arb, [(A, 0, -50.0, 5)], params)
    feed(arb, [(B, 11_000, -55.0, 2)], params)  # B leads (A is silent)
    feed(arb, [(A, 11_500, -40.0, 5)], params)  # A is back, strongly: the lead is lost
    assert arb.candidate is None
    assert feed(arb, [(B, 13_500, -55.0, 2)], params) == []  # B must lead 2 s afresh


def test_read_older_than_the_last_move_never_undoes_it():
    arb = Arbiter()
    feed(arb, [(A, 1000, -50.0, 5)])
    feed(arb, [(B, 20_000, -50.0, 5)])
    assert arb.zone == B and arb.since == 20_000
    status, move = arb.observe(A, 19_000, -30.0, 50, same)  # a late upload from A's reader
    assert (status, move) == (LATE, None)
    assert arb.zone == B


def test_out_of_order_reads_within_the_window_count():
    arb = Arbiter()
    feed(arb, [(A, 1000, -50.0, 2)])
    assert feed(arb, [(B, 30_000, -50.0, 1)]) == []  # one read at B: not enough yet
    # A second read at B arrives late but after the move time: it is used.
    status, move = arb.observe(B, 29_500, -50.0, 1, same)
    assert status == APPLIED and move is not None and move.to_zone == B


def test_reads_older_than_every_window_are_history():
    arb = Arbiter()
    feed(arb, [(A, 100_000, -50.0, 2)])
    status, move = arb.observe(B, 80_000, -40.0, 5, same)
    assert status == LATE  # before the move at 100 s
    arb2 = Arbiter()
    feed(arb2, [(A, 100_000, -50.0, 1)])
    assert arb2.observe(B, 80_000, -40.0, 5, same)[0] == STALE


def test_the_same_report_twice_counts_once():
    arb = Arbiter()
    assert arb.observe(A, 1000, -50.0, 1, same)[0] == APPLIED
    arb.observe(A, 2000, -50.0, 1, same)  # moves to A
    arb.observe(B, 3000, -45.0, 1, same)
    assert arb.observe(B, 3000, -45.0, 1, same) == (DUPLICATE, None)
    assert sum(e[2] for e in arb.windows[B]) == 1 and arb.sums[B] == [1, -450]


def test_observation_without_rssi_is_definitive():
    arb = Arbiter()
    feed(arb, [(A, 1000, -50.0, 5)])
    (move,) = feed(arb, [(B, 1200, None, 1)])  # an EPCIS event or a scan at B
    assert move.to_zone == B


def test_window_keeps_last_reads_and_seconds():
    arb = Arbiter()
    feed(arb, [(A, i * 100, -50.0, 1) for i in range(100)])
    assert sum(e[2] for e in arb.windows[A]) == 20  # the last 20 reads
    feed(arb, [(A, 60_000, -50.0, 1)])
    assert [e[0] for e in arb.windows[A]] == [60_000]  # 10 s later the old ones are gone


def test_state_survives_dump_and_load():
    arb = Arbiter()
    feed(arb, [(A, 1000, -50.04, 3), (B, 1500, -61.26, 1), (B, 1600, -61.0, 1)])
    data = arb.dump()
    again = Arbiter.load(data, zone=arb.zone, since=arb.since)
    assert again == arb
    assert all(isinstance(v, int) for flat in data["w"].values() for v in flat)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([A, B]), st.integers(0, 60_000), st.integers(-90, -30), st.integers(1, 3)),
        max_size=80,
    )
)
def test_splitting_uploads_and_reloading_state_changes_nothing(reads):
    """Processing reads in one go or in two uploads with a save/reload between
    ends in the same zone (the state is complete)."""
    reads = sorted(reads, key=lambda r: r[1])
    one = Arbiter()
    feed(one, [(z, t, float(r), n) for z, t, r, n in reads])
    half = len(reads) // 2
    first = Arbiter()
    feed(first, [(z, t, float(r), n) for z, t, r, n in reads[:half]])
    second = Arbiter.load(first.dump(), zone=first.zone, since=first.since)
    feed(second, [(z, t, float(r), n) for z, t, r, n in reads[half:]])
    assert (second.zone, second.since) == (one.zone, one.since)


class _Read:
    def __init__(self, tag, rp, t_ms, count=1, rssi=-50.0):
        import datetime as dt

        self.tag_id, self.read_point, self.antenna = tag, rp, 1
        self.last_seen = self.first_seen = dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC)
        self.count, self.rssi, self.epc_hex = count, rssi, None


def test_aggregation_buckets_orders_and_quarantines():
    reads = [
        _Read("t2", "r", 2500, rssi=-60),
        _Read("t1", "r", 1200, 2, -50),
        _Read("t1", "r", 1900, 1, -56),
        _Read("t1", "r", 2100),
        _Read("t1", "r", 999_999_999),
    ]
    agg = aggregate(reads, bucket_ms=1000, future_limit_ms=10_000)
    assert agg.quarantined == 1 and agg.reads == 6
    assert [(o.tag_id, o.t, o.count) for o in agg.observations] == [("t1", 1900, 3), ("t1", 2100, 1), ("t2", 2500, 1)]
    assert agg.observations[0].rssi == -52.0  # (2 x -50 + 1 x -56) / 3


def test_aggregation_drops_identical_reports():
    reads = [_Read("t1", "r", 1200), _Read("t1", "r", 1200)]
    agg = aggregate(reads, bucket_ms=1000, future_limit_ms=10_000)
    assert agg.duplicates == 1 and agg.observations[0].count == 1
