"""The rules list: every case cites one of these codes (docs/trust.md, "Rules").

A rule code is stable (clients and staff refer to it); its title is what the affected
person reads next to the reason.
"""

from __future__ import annotations

RULES: dict[str, str] = {
    # Chat (live room).
    "C1": "Harassment, hate or threats in chat",
    "C2": "Spam, flooding or unsolicited promotion in chat",
    "C3": "Off-platform payment or contact requests",
    "C4": "Other chat conduct the show's hosts do not allow",
    # Listings.
    "L1": "Prohibited item or term in a listing",
    "L2": "Misleading listing (title, photos or price)",
    "L3": "Counterfeit or replica goods",
    # Bidding.
    "B1": "Unpaid auction wins (three strikes in 90 days)",
    "B2": "Shill or fraudulent bidding",
    # Accounts.
    "A1": "Payment fraud or chargeback abuse",
    "A2": "Repeated violations across shows",
}

# What a chat moderation action cites when the moderator picked no rule: the host's own
# house rules (C4), the catch-all for chat.
DEFAULT_CHAT_RULE = "C4"


def rule_title(code: str) -> str:
    return RULES.get(code, code)
