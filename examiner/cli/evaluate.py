"""`examiner evaluate` and `examiner calibrate` (being built)."""
