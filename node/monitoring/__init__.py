"""Watching a running node: Prometheus metrics, liveness and readiness, JSON logs."""
