"""Observability concern: the monitoring stack, alert routing, CloudWatch alarms, and the pure alert rules,
dashboards and exporter metric catalogue."""
