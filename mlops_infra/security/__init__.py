"""Security concern: the security baseline (audit trail, threat detection, secrets delivery, exfiltration guards)."""
