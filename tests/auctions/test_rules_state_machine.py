"""A Hypothesis state machine over the auction rules (`auctions.rules`): random bidders
bid, raise maximums and let time pass; after every step the invariants SPEC states hold."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from auctions import rules

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BIDDERS = st.integers(min_value=1, max_value=5)
CENTS = st.integers(min_value=0, max_value=60000).map(lambda c: Decimal(c) / 100)


class AuctionRules(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.state: rules.State | None = None
        self.accepted: list[rules.Step] = []
        self.order = 0

    @rule(
        start=st.integers(min_value=1, max_value=60000).map(lambda c: Decimal(c) / 100),
        duration=st.integers(min_value=5, max_value=600),
        sudden=st.booleans(),
    )
    @precondition(lambda self: self.state is None)
    def open(self, start: Decimal, duration: int, sudden: bool) -> None:
        self.state = rules.State(
            starting_bid=start, ends_at=T0 + timedelta(seconds=duration), sudden_death=sudden
        )

    @rule(seconds=st.floats(min_value=0, max_value=30, allow_nan=False))
    @precondition(lambda self: self.state is not None)
    def wait(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    @rule(bidder=BIDDERS, over=CENTS, extra=st.none() | CENTS)
    @precondition(lambda self: self.state is not None)
    def bid(self, bidder: int, over: Decimal, extra: Decimal | None) -> None:
        state = self.state
        assert state is not None
        floor = rules.min_next_bid(starting_bid=state.starting_bid, current_bid=state.current_bid)
        # Mostly valid bids (the floor plus something), sometimes one cent short.
        amount = floor + over if over > 0 else floor - Decimal("0.01")
        max_amount = None if extra is None else amount + extra
        before_end, before_price = state.ends_at, state.current_bid
        self.order += 1
        try:
            outcome = rules.place(
                state,
                bidder=bidder,
                amount=amount,
                max_amount=max_amount,
                now=self.now,
                order=self.order,
            )
        except rules.Closed:
            assert self.now >= before_end
            return
        except rules.TooLow as low:
            assert amount < floor and low.min_next == floor
            assert (state.current_bid, state.ends_at) == (before_price, before_end)
            return
        assert self.now < before_end, "accepted at or after ends_at"
        assert amount >= floor
        self.accepted.extend(outcome.steps)
        if outcome.steps and not state.sudden_death and before_end - self.now < rules.ANTI_SNIPE:
            assert state.ends_at == self.now + rules.ANTI_SNIPE
        else:
            assert state.ends_at == before_end
        if outcome.steps:
            assert outcome.steps[-1].amount == state.current_bid

    @rule(bidder=BIDDERS)
    @precondition(lambda self: self.state is not None and self.state.leader is not None)
    def match_the_leaders_maximum(self, bidder: int) -> None:
        """Ties are rare at random: bid exactly the leader's maximum on purpose."""
        state = self.state
        assert state is not None and state.leader is not None
        top = state.maxima[state.leader][0]
        floor = rules.min_next_bid(starting_bid=state.starting_bid, current_bid=state.current_bid)
        if bidder == state.leader or top < floor or self.now >= state.ends_at:
            return
        leader = state.leader
        self.order += 1
        outcome = rules.place(
            state, bidder=bidder, amount=floor, max_amount=top, now=self.now, order=self.order
        )
        self.accepted.extend(outcome.steps)
        assert state.leader == leader and state.current_bid == top

    @invariant()
    def accepted_bids_strictly_rise(self) -> None:
        amounts = [s.amount for s in self.accepted]
        assert all(a < b for a, b in itertools.pairwise(amounts))

    @invariant()
    def the_highest_earliest_maximum_leads_at_a_price_between_the_rivals_and_it(self) -> None:
        state = self.state
        if state is None or state.leader is None:
            return
        top, placed = state.maxima[state.leader]
        assert state.current_bid is not None and state.current_bid <= top
        for bidder, (maximum, when) in state.maxima.items():
            if bidder == state.leader:
                continue
            assert maximum < top or (maximum == top and when > placed), "tie goes to the earlier"
            assert maximum <= state.current_bid, "a rival's maximum was bid up to"

    @invariant()
    def the_price_is_the_last_accepted_bid(self) -> None:
        if self.state is not None and self.accepted:
            assert self.state.current_bid == self.accepted[-1].amount


AuctionRules.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestAuctionRules = AuctionRules.TestCase


@pytest.mark.parametrize(
    ("amount", "step"),
    [
        ("0.01", "1.00"),
        ("19.99", "1.00"),
        ("20.00", "2.00"),
        ("99.99", "2.00"),
        ("100.00", "5.00"),
        ("499.99", "5.00"),
        ("500.00", "10.00"),
        ("99999.00", "10.00"),
    ],
)
def test_increment_table(amount: str, step: str) -> None:
    assert rules.increment(Decimal(amount)) == Decimal(step)


def test_nothing_accepted_exactly_at_the_end() -> None:
    state = rules.State(starting_bid=Decimal("1.00"), ends_at=T0)
    with pytest.raises(rules.Closed):
        rules.place(state, bidder=1, amount=Decimal("5.00"), max_amount=None, now=T0, order=1)
