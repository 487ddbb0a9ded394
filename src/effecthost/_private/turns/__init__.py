"""Durable turns for agent authors: the ``Turn`` API, turn functions, the driver and the worker.

The top layer: it drives turns through a durable host (``runtime``) and keeps their records
(``lifecycle``) up to date; nothing below imports it.
"""
