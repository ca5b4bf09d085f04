"""The whole OML topology on one machine: `oml up` (long-running) and `oml demo` (the story)."""
