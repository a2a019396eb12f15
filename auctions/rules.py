"""The auction rules as pure functions (no database, no clock): the increment table, the
proxy-bid resolution and the anti-snipe extension. `auctions.services` applies them to
the locked auction row; the Hypothesis state machine in tests/auctions tests them
against a reference model. SPEC "v1.1 — Live auctions", "Rules".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

ANTI_SNIPE = timedelta(seconds=10)
# (below this amount, the increment) — +10.00 from 500.00 up.
INCREMENTS: tuple[tuple[Decimal, Decimal], ...] = (
    (Decimal("20.00"), Decimal("1.00")),
    (Decimal("100.00"), Decimal("2.00")),
    (Decimal("500.00"), Decimal("5.00")),
)
TOP_INCREMENT = Decimal("10.00")


def increment(amount: Decimal) -> Decimal:
    """The step above `amount`: +1.00 below 20, +2.00 below 100, +5.00 below 500, else +10."""
    for below, step in INCREMENTS:
        if amount < below:
            return step
    return TOP_INCREMENT


def min_next_bid(*, starting_bid: Decimal, current_bid: Decimal | None) -> Decimal:
    """What the next bid must at least be."""
    if current_bid is None:
        return starting_bid
    return current_bid + increment(current_bid)


@dataclass
class State:
    """What the rules need of an auction. `maxima` maps bidder → (maximum, placed order):
    a lower `placed` is earlier, and of two equal maximums the earlier one leads."""

    starting_bid: Decimal
    ends_at: datetime
    sudden_death: bool = False
    current_bid: Decimal | None = None
    leader: int | None = None
    maxima: dict[int, tuple[Decimal, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One accepted price: `bidder` bid `amount` (`proxy`: placed by the server for them)."""

    bidder: int
    amount: Decimal
    proxy: bool


@dataclass(frozen=True)
class Outcome:
    steps: list[Step]
    leader: int
    current_bid: Decimal
    ends_at: datetime
    outbid: int | None  # the previous leader, when the lead changed hands


class TooLow(Exception):
    def __init__(self, min_next: Decimal) -> None:
        super().__init__(f"bid below {min_next}")
        self.min_next = min_next


class Closed(Exception):
    pass


def place(
    state: State,
    *,
    bidder: int,
    amount: Decimal,
    max_amount: Decimal | None,
    now: datetime,
    order: int,
) -> Outcome:
    """Decide one bid and update `state` in place. `order` is a number that grows with
    every call (the bid's place in the one-writer sequence). Raises `Closed` at or after
    `ends_at` and `TooLow` below `min_next_bid`.

    A challenger with maximum m_B against a leader with maximum m_L:
    - m_B > m_L: the leader's proxy first bids up to m_L (if above the price), then the
      challenger leads at one increment above m_L, capped at m_B, at least `amount`;
    - m_B <= m_L: the challenger's bid stands at m_B, then the leader's proxy answers one
      increment above it, capped at m_L (a tie leaves the price at m_B: the earlier
      maximum leads without a new step).
    The leader bidding again only raises their own maximum (no new price).
    """
    if now >= state.ends_at:
        raise Closed()
    floor = min_next_bid(starting_bid=state.starting_bid, current_bid=state.current_bid)
    if amount < floor:
        raise TooLow(floor)
    mine = max(amount, max_amount or amount)
    previous = state.leader
    steps: list[Step] = []
    if previous == bidder:
        if mine > state.maxima[bidder][0]:
            state.maxima[bidder] = (mine, order)
        assert state.current_bid is not None
        return Outcome([], bidder, state.current_bid, state.ends_at, None)
    state.maxima[bidder] = (mine, order)
    if previous is None:
        steps.append(Step(bidder, amount, proxy=False))
        state.leader = bidder
    else:
        leader_max = state.maxima[previous][0]
        assert state.current_bid is not None
        if mine > leader_max:
            # price > leader_max always (mine > leader_max), so the steps rise.
            price = max(amount, min(mine, leader_max + increment(leader_max)))
            if leader_max > state.current_bid:
                steps.append(Step(previous, leader_max, proxy=True))
            steps.append(Step(bidder, price, proxy=max_amount is not None and price > amount))
            state.leader = bidder
        else:
            steps.append(Step(bidder, mine, proxy=max_amount is not None and mine > amount))
            answer = min(leader_max, mine + increment(mine))
            if answer > mine:
                steps.append(Step(previous, answer, proxy=True))
    state.current_bid = steps[-1].amount
    assert state.leader is not None
    if not state.sudden_death and state.ends_at - now < ANTI_SNIPE:
        state.ends_at = now + ANTI_SNIPE
    outbid = previous if previous is not None and state.leader != previous else None
    return Outcome(steps, state.leader, state.current_bid, state.ends_at, outbid)
