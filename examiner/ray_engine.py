"""Grading a run on a Ray cluster (`examiner grade … --engine ray`).

The embedding stage is the part of grading that grows with the class: Ray
Data takes the answers a run still needs in blocks and grades them in a pool
of actors, each of which builds the grader once (one model load per actor)
and grades whole blocks with it, exactly as one process would. Everything
else stays where it was: the driver reads the submissions file (bad rows are
reported as ever), skips what the store already holds, writes every grade
through the same run writer (the store records each answer as it is done,
so a resumed run skips it), and runs the judge stage, live or batch, on the
grades as they come back, in input order.

Blocks are whole multiples of the grader's batch, so every answer is embedded
in the same company as on one machine: the scores are the same, to the byte.
A worker killed mid-run is restarted by Ray and its block graded again; the
driver writes each answer once.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, Problem
from .models import Grade, Submission

if TYPE_CHECKING:
    from .judge import JudgeItem
    from .scoring.grader import Grader

__all__ = ["RayEngine", "require_ray"]

# Answers handed to Ray Data per pass: bounds what the driver holds, and each
# pass costs one model load per actor (about a second): a pass is ~minutes of work.
WINDOW = 65_536


def require_ray() -> None:
    """Ray is an extra: say how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError(
            "--engine ray needs Ray: pip install 'examiner[ray]'", setting="engine"
        ) from None


@dataclass
class RayEngine:
    """The embedding stage of a grader, spread over a Ray cluster's actors.

    `address`: the cluster (`auto`: the one running here; None: start a local
    Ray instance for this process). `workers`: actors in the pool (default:
    the cluster's CPUs, one CPU each). `block`: answers per block, a multiple
    of the grader's batch size. `on_block(worker_pid, answers, worker_peak_mib)`
    is called as each block comes back.
    """

    grader: Grader
    address: str | None = None
    workers: int | None = None
    block: int | None = None
    window: int = WINDOW
    on_block: Callable[[int, int, float], None] | None = None

    def __post_init__(self) -> None:
        require_ray()
        size = self.grader.batch_size
        self.block = max(size, (self.block or 4 * size) // size * size)
        # Windows too are whole blocks, so batches line up with one process's.
        self.window = max(self.block, self.window // self.block * self.block)

    def first_stage(
        self, submissions: Iterable[Submission | Problem], *, source: str = "<submissions>"
    ) -> Iterator[JudgeItem | Problem]:
        """Like `Grader.first_stage`: (card, submission, grade) per good row, in input order."""
        self._start()
        stream = iter(submissions)
        while window := list(islice(stream, self.window)):
            yield from self._grade_window(window, source)

    # -- one pass of Ray Data --------------------------------------------------------------

    def _grade_window(
        self, window: list[Submission | Problem], source: str
    ) -> Iterator[JudgeItem | Problem]:
        # Bad rows travel too, in place: the actors then batch exactly the rows
        # one process would batch together, which keeps the scores identical.
        rows = [{"i": i, "row": _encode(item)} for i, item in enumerate(window)]
        done: dict[int, Grade | Problem] = {}
        nxt = 0
        for batch in self._dataset(rows, source).iter_batches(batch_size=None):
            for i, text in zip(batch["i"], batch["out"], strict=True):
                done[int(i)] = _decode_out(str(text))
            if self.on_block is not None:
                self.on_block(int(batch["worker"][0]), len(batch["i"]), float(batch["peak_mib"][0]))
            # Yield what is ready, in input order, while later blocks are still graded.
            while nxt in done:
                yield self._item(window[nxt], done.pop(nxt))
                nxt += 1
        if nxt != len(window):
            raise RuntimeError(f"Ray gave back {nxt} of {len(window)} answers")

    def _dataset(self, rows: list[dict[str, Any]], source: str) -> Any:
        import ray.data

        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False  # examiner's own bar counts the answers
        workers = self._workers()
        return ray.data.from_items(rows).map_batches(
            _GradeBlock,
            fn_constructor_kwargs={"spec": self._spec(), "source": source},
            batch_size=self._block_for(len(rows), workers),
            # One block at a time per actor: the first actor up does not take them all.
            compute=ray.data.ActorPoolStrategy(size=workers, max_tasks_in_flight_per_actor=1),
            num_cpus=1,
            batch_format="numpy",
        )

    def _block_for(self, rows: int, workers: int) -> int:
        """Blocks of at most `block`, small enough that a short run still reaches every
        actor (about 4 blocks each); always whole batches, so scores stay the same."""
        size, most = self.grader.batch_size, self.block or self.grader.batch_size
        share = -(-rows // (4 * workers))  # ceil
        return min(most, max(size, -(-share // size) * size))

    def _item(self, item: Submission | Problem, out: Grade | Problem) -> JudgeItem | Problem:
        if isinstance(out, Problem):
            return out
        assert isinstance(item, Submission)
        return (self.grader.rubric.card(out.card_id), item, out)

    def _spec(self) -> dict[str, Any]:
        """What a worker needs to build the same grader (its embedding stage only)."""
        return self.grader.worker_spec(threads=1)

    def _workers(self) -> int:
        import ray

        if self.workers:
            return self.workers
        return max(1, int(ray.cluster_resources().get("CPU", 1)))  # type: ignore[no-untyped-call]

    def _start(self) -> None:
        import logging

        import ray

        # Ray Data narrates each pass on stderr; examiner shows its own progress.
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        if not ray.is_initialized():
            ray.init(
                address=self.address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                ignore_reinit_error=True,
            )


class _GradeBlock:
    """A Ray actor: one grader, built once, grading blocks of answers."""

    def __init__(self, spec: dict[str, Any], source: str) -> None:
        from .scoring.grader import Grader

        self._grader = Grader(**spec)
        _ = self._grader.scorer  # the model loads now, once per actor
        self._source = source
        self._pid = os.getpid()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        rows = [_decode_row(str(text)) for text in batch["row"]]
        outs = [
            _encode(out if isinstance(out, Problem) else out[2])
            for out in self._grader.first_stage(rows, source=self._source)
        ]
        peak = _peak_mib()
        return {
            "i": list(batch["i"]),
            "out": outs,
            "worker": [self._pid] * len(rows),
            "peak_mib": [peak] * len(rows),
        }


def _peak_mib() -> float:
    """This process's peak resident memory so far."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


# Rows cross to the actors as JSON text: a submission, a grade, or a bad row.
def _encode(item: Submission | Grade | Problem) -> str:
    if isinstance(item, Problem):
        return "P" + json.dumps([item.path, item.line, item.message, item.field])
    return ("S" if isinstance(item, Submission) else "G") + item.model_dump_json()


def _decode_row(text: str) -> Submission | Problem:
    out = _decode(text)
    assert not isinstance(out, Grade)
    return out


def _decode_out(text: str) -> Grade | Problem:
    out = _decode(text)
    assert not isinstance(out, Submission)
    return out


def _decode(text: str) -> Submission | Grade | Problem:
    kind, body = text[0], text[1:]
    if kind == "P":
        path, line, message, field = json.loads(body)
        return Problem(path, line, message, field)
    if kind == "S":
        return Submission.model_validate_json(body)
    return Grade.model_validate_json(body)
