"""`accounts.selectors.user_by_username`: the one username lookup (any case, exact first)."""

import pytest

from accounts.selectors import user_by_username
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_username_in_any_case_names_its_user():
    carol = UserFactory(username="Carol")
    assert user_by_username("carol") == carol
    assert user_by_username("CAROL") == carol
    assert user_by_username("Carol") == carol


def test_the_exact_spelling_wins_over_an_older_account_differing_only_by_case():
    # Registration refuses this; the admin or createsuperuser can still do it.
    older = UserFactory(username="dave")
    newer = UserFactory(username="Dave")
    assert user_by_username("Dave") == newer
    assert user_by_username("dave") == older
    assert user_by_username("DAVE") == older  # no exact match: the oldest account


@pytest.mark.parametrize("name", ["nobody", "", None, 42, ["carol"]])
def test_nothing_is_found_for_an_unknown_name_or_a_non_string(name):
    UserFactory(username="carol")
    assert user_by_username(name) is None
