"""Unit: the report groups notes by their code (and the words of their data)."""

from __future__ import annotations

from rehab.model import Note, NoteCode
from rehab.reports.data import quality_key


def test_same_code_different_numbers_group_together() -> None:
    a = Note(NoteCode.NO_PERSON, "no person detected in 3 of 90 frames", {"frames": 3})
    b = Note(NoteCode.NO_PERSON, "no person detected in 40 of 300 frames", {"frames": 40})
    assert quality_key(a) == quality_key(b)


def test_words_in_the_data_keep_remarks_apart() -> None:
    short = Note(NoteCode.NOT_COUNTED, "not counted: too short movement 1.00-1.20 s",
                 {"kind": "too_short"})
    edge = Note(NoteCode.NOT_COUNTED, "not counted: partial end movement 9.00-9.90 s",
                {"kind": "partial_end"})
    assert quality_key(short) != quality_key(edge)


def test_uncoded_text_groups_without_its_numbers() -> None:
    assert quality_key(Note.of("set 2 restarted after 3 reps")) == \
        quality_key(Note.of("set 1 restarted after 5 reps"))
    assert quality_key(Note.of("a")) != quality_key(Note(NoteCode.LIVE, "a"))
