"""Substrates: one module each, implementing the journal and await-store Protocols."""
