"""The optional LLM judge: structured, verified feedback from any OpenAI-compatible model.

- `verdict`: the pydantic verdict, which is both the contract and the prompt.
- `prompt`: the messages (the student's answer delimited as data).
- `client`: the openai SDK calls (structured outputs, fallbacks, retries, re-asks).
- `verify`: quote verification and examiner's own score.
- `cache`: verdicts keyed by model, prompt version, card and answer.
- `stage`: routing, concurrency and the cache, per run.
- `grading`: the judged Grade (weighted against the embedding stage's), and the fallback.
- `drafting`: `examiner rubric build --llm`.

Nothing here sends anything unless a judge is configured (a model, and a key
or a base URL).
"""

from __future__ import annotations

from .grading import judge_grade, with_weight
from .stage import JudgeItem, JudgePlan, JudgeStage, JudgeUsage, routes
from .verdict import Verdict, verdict_schema

__all__ = [
    "JudgeItem",
    "JudgePlan",
    "JudgeStage",
    "JudgeUsage",
    "Verdict",
    "judge_grade",
    "routes",
    "verdict_schema",
    "with_weight",
]
