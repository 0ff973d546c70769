"""Measurement: the funnel and its cohorts, KPIs, durations, seasonality, the audit, benchmarks."""
