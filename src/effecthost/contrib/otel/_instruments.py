"""The metrics the interceptor records: the GenAI client metrics and effecthost's own."""

from __future__ import annotations

from opentelemetry.metrics import Meter

#: The GenAI conventions' advised bucket boundaries.
DURATION_BUCKETS_S = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
#: Waits for a human or a webhook last seconds to days.
WAIT_BUCKETS_S = [0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 4 * 3600, 86400, 7 * 86400]


class Instruments:
    def __init__(self, meter: Meter) -> None:
        self.operation_duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration (model calls that ran, not replayed ones)",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS_S,
        )
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used (by model calls that ran)",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.effects = meter.create_counter(
            "effecthost.effects",
            unit="{effect}",
            description="Effects by kind and result: executed (ran now), failed (ran now, failed), replayed",
        )
        self.effect_duration = meter.create_histogram(
            "effecthost.effect.duration",
            unit="s",
            description="Time from an effect's call to its answer, by kind and result",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS_S,
        )
        self.wait_duration = meter.create_histogram(
            "effecthost.wait.duration",
            unit="s",
            description="Time a turn waited on an await event or a sleep",
            explicit_bucket_boundaries_advisory=WAIT_BUCKETS_S,
        )
        self.mismatches = meter.create_counter(
            "effecthost.replay.mismatches",
            unit="{effect}",
            description="Effects whose envelope differed from the one recorded under their replay key",
        )
        self.leases_lost = meter.create_counter(
            "effecthost.leases.lost",
            unit="{lease}",
            description="Effect or turn leases lost to another owner before the work was recorded",
        )
        self.turns = meter.create_counter(
            "effecthost.turn.drives",
            unit="{drive}",
            description="Drives of turns by how they ended (completed, failed, cancelled, waiting, ...)",
        )
        self.suspended = meter.create_up_down_counter(
            "effecthost.turns.suspended",
            unit="{turn}",
            description="Turns suspended on a wait or a sleep (summed over the processes driving them)",
        )
        self.resolves = meter.create_counter(
            "effecthost.await_events.resolved",
            unit="{call}",
            description="Resolve calls on await events, by what they did (accepted, already_resolved, ...)",
        )
        self.saved_calls = meter.create_counter(
            "effecthost.replay.saved.model_calls",
            unit="{call}",
            description="Model calls answered from the journal instead of calling the model again",
        )
        self.saved_tokens = meter.create_counter(
            "effecthost.replay.saved.tokens",
            unit="{token}",
            description="Tokens of the model calls answered from the journal (by gen_ai.token.type)",
        )
