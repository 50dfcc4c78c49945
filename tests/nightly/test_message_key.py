"""A message's key (and so its Message-ID and outbox file name) depends only on its set of
deliveries, however they are read."""

from __future__ import annotations

from collections import namedtuple

from hypothesis import given
from hypothesis import strategies as st

from plan_tracker.services.delivery import _Claim
from plan_tracker.services.messages import message_key

Row = namedtuple("Row", "id message_id topic")


@given(ids=st.lists(st.integers(min_value=1, max_value=10**12), min_size=1, max_size=40, unique=True))
def test_a_key_read_as_the_rows_stream_by_is_the_key_of_the_whole_set(ids: list[int]) -> None:
    # delivery._Claim hashes the ids in the order the store returns them (ascending) and keeps
    # none; a resend after a crash must still get the key of the first send.
    claim = _Claim("plan", "contact:t1")
    for delivery_id in sorted(ids):
        claim.add(Row(delivery_id, None, None))
    assert claim.message_key == message_key("plan", "contact:t1", list(reversed(ids)))


def test_a_claim_keeps_the_frozen_message_and_the_newest_row_of_each_topic() -> None:
    claim = _Claim("plan", "lg")
    for row in (Row(1, None, None), Row(2, 7, "weekly:2018-W29"), Row(3, 8, "weekly:2018-W30"),
                Row(4, None, "decisions:2018-07-20")):
        claim.add(row)
    assert claim.message_id == 7
    assert {kind: row.id for kind, row in claim.topics.items()} == {"weekly": 3, "decisions": 4}
