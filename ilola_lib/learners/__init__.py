"""Forward learners: exact tabular MA-SPI, naive-gradient and LOLA learners (T1)."""
