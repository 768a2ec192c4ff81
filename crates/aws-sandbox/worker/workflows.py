"""The sample worker's workflow and activity: `Greet("Temporal")` returns "Hello, Temporal!" after
one activity, so a completed run proves both a workflow task and an activity task were served by
the worker that Lambda ran.

Kept apart from handler.py: Temporal's workflow sandbox re-imports a workflow's module, which must
not start a Lambda worker again.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import VersioningBehavior


@activity.defn
async def compose_greeting(name: str) -> str:
    return f"Hello, {name}!"


# A Serverless Worker's workflows need a versioning behaviour (Pinned or AutoUpgrade).
@workflow.defn(name="Greet", versioning_behavior=VersioningBehavior.PINNED)
class Greet:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            compose_greeting, name, start_to_close_timeout=timedelta(seconds=10)
        )
