"""Statistics over seeds, aggregation into summaries, target checks, tables and figures."""
