"""Integrations with other projects' tools, each behind its own extra (``effecthost.contrib.otel``:
OpenTelemetry). Like the faces, contrib modules import effecthost's public roots only."""
