"""The state machine's legal transitions: the single table every writer uses."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import states


def test_happy_path_is_legal():
    path = [states.AWAITING_UPLOAD, states.UPLOADED, states.SIGNED, states.DISPATCHED]
    assert all(states.can_transition(a, b) for a, b in zip(path, path[1:], strict=False))


def test_terminal_states_lead_nowhere():
    for terminal in states.TERMINAL:
        assert not any(states.can_transition(terminal, target) for target in states.ALL_STATES)


def test_a_document_cannot_skip_signing():
    assert not states.can_transition(states.UPLOADED, states.DISPATCHED)
    assert not states.can_transition(states.AWAITING_UPLOAD, states.SIGNED)


@given(st.sampled_from(sorted(states.ALL_STATES)), st.sampled_from(sorted(states.ALL_STATES)))
def test_can_transition_agrees_with_the_table(current, target):
    expected = current in states.ALLOWED_FROM.get(target, frozenset())
    assert states.can_transition(current, target) is expected
