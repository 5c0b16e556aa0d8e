"""The files examiner reads and writes, one module or package per kind.

- `decks`: flashcard decks (lesson text, Markdown, CSV/TSV, Anki, JSON, JSONL).
- `submissions`: student answers to grade, streamed from CSV/TSV or JSONL.
- `labelled`: teacher-graded answers (a submissions file plus the teacher's
  score or label), for measuring agreement with the teacher.
- `results`: grades written out as JSONL or CSV.
"""
