"""Turn records: what a turn is durably (status, input, result, owner, what it waits for), the
store Protocol every substrate implements for them, and the pure transitions between states."""
