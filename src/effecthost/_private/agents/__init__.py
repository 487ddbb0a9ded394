"""Durable agents: a tool-calling loop on durable turns (public face: ``effecthost.agents``)."""
