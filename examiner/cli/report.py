"""`examiner report`: feedback for students and the class report (being built)."""
