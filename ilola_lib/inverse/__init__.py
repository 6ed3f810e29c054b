"""Inverse methods: MA-LfL (§5.1), I-LOGEL Stage A (§5.2), I-LOLA Stage B (§5.3)."""
