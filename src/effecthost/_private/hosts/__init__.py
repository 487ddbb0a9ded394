"""Hosts: inline and recording (no substrate), and the durable host over a substrate's stores."""
