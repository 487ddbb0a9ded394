"""Await events: keys, resolutions, the first-writer-wins table and the waiter coordinator."""
