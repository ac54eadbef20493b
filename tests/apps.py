"""The guide's notes app as the suite installs it: under a label of its own, so
that a fork that adds the guide's own `notes` app, as docs/forking.md says, keeps
a suite that starts."""

from tests.notes.apps import NotesConfig


class SuiteNotesConfig(NotesConfig):
    label = "suite_notes"
