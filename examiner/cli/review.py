"""`examiner runs` and `examiner review`: the batch store's commands (being built)."""
