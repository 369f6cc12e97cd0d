"""The inbox contract on the in-memory adapter."""

from __future__ import annotations

import pytest

from adapters.memory.inbox import InMemoryInbox
from tests.unit.inbox_contract import InboxContract


class TestInMemoryInbox(InboxContract):
    @pytest.fixture
    def inbox(self) -> InMemoryInbox:
        return InMemoryInbox()

    @pytest.fixture
    def other(self, inbox: InMemoryInbox) -> InMemoryInbox:
        return InMemoryInbox(sharing=inbox)
