"""`examiner evaluate` and `examiner calibrate`: agreement with teachers, and fitting it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ExaminerError, Problem
from ._app import app, err, escape, out, reports_errors
from .options import (
    ApiKeyOpt,
    BaseUrlOpt,
    CalibrationOpt,
    CheckerOpt,
    ExamplesOpt,
    ForceOpt,
    JudgeModelOpt,
    ModelOpt,
    RubricArg,
    ScorerOpt,
    ThreadsOpt,
    make_grader,
)

GradedArg = Annotated[
    Path,
    typer.Argument(help="Graded answers (CSV/JSONL): student_id, card, answer and score or label."),
]


def _grader(
    rubric: Path,
    model: str | None,
    cal: Any,
    scorer: str,
    threads: int | None,
    checker: bool = True,
    examples: Path | None = None,
) -> Any:
    from ..rubric import load_rubric

    return make_grader(
        load_rubric(rubric),
        scorer=scorer,
        model=model,
        calibration=cal,
        threads=threads,
        checker=checker,
        examples=examples,
    )


def _report_problems(problems: list[Problem]) -> None:
    for problem in problems[:20]:
        err.print(f"[red]skipped[/] {escape(str(problem))}")
    if len(problems) > 20:
        err.print(f"… and {len(problems) - 20} more rows skipped")


@app.command()
@reports_errors
def evaluate(
    rubric: RubricArg,
    graded: GradedArg,
    calibration: CalibrationOpt = None,
    model: ModelOpt = None,
    scorer: ScorerOpt = "auto",
    threads: ThreadsOpt = None,
    checker: CheckerOpt = True,
    examples: ExamplesOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Grade teacher-graded answers and show how well examiner agrees with the teacher.

    With --examples, each answer is also pulled toward the teacher's grades of
    close example answers (keep the examples apart from the answers measured).
    """
    from ..evaluation import agreement, grade_graded
    from ..formats.labelled import iter_graded
    from ..scoring.calibration import load_calibration

    cal = load_calibration(calibration) if calibration else None
    grader = _grader(rubric, model, cal, scorer, threads, checker, examples)
    answers = iter_graded(graded)
    with err.status("grading…"):
        scored, problems = grade_graded(grader, answers, str(graded))
    _report_problems(problems)
    report = agreement(scored)
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        return
    _print_agreement(report, title=f"Agreement with the teacher ({report.n} answers)")
    _print_details(report)


@app.command()
@reports_errors
def calibrate(
    rubric: RubricArg,
    graded: GradedArg,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Calibration JSON to write.")
    ] = Path("calibration.json"),
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds, grouped by card.")] = 5,
    head: Annotated[
        bool,
        typer.Option(
            help="Also try a similarity head learned from these answers (a course's own "
            "weighting of the embedding); kept only if it does better on held-out cards.",
        ),
    ] = True,
    model: ModelOpt = None,
    threads: ThreadsOpt = None,
    checker: CheckerOpt = True,
    judge: Annotated[
        bool,
        typer.Option(
            "--judge",
            help="Also fit how far to trust the configured judge (EXAMINER_JUDGE_MODEL, or "
            "--judge-model): it reads every graded answer, one call each.",
        ),
    ] = False,
    judge_model: JudgeModelOpt = None,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    force: ForceOpt = False,
) -> None:
    """Fit the similarity → credit mapping on teacher-graded answers, with its agreement.

    The answer checker's signals are fitted too, unless --no-checker: grade
    with the checker on (the default) to use a calibration fitted with it.
    With --judge, the judge's weight against the embedding stage is fitted
    too and kept in the calibration under the judge model's name.
    """
    from rich.table import Table

    from ..evaluation import assess_graded, cross_validate, fit_calibration, head_tried
    from ..formats.labelled import iter_graded
    from ..scoring.calibration import hand_set_calibration, save_calibration
    from ..scoring.embedder import model_name

    if output.exists() and not force:
        raise ExaminerError(f"{output} exists: pass --force to overwrite it")
    settings = _judge_to_fit(judge_model, base_url, api_key) if judge else None
    # Features are measured with the hand-set curve, the one the fit is applied with.
    base = hand_set_calibration(model_name(model))
    grader = _grader(rubric, model, base, "embedding", threads, checker)
    with err.status("measuring…"):
        scored, problems = assess_graded(grader, iter_graded(graded), str(graded))
    _report_problems(problems)
    with err.status("fitting…"):
        held_out = cross_validate(scored, base, folds, head=head)
        fitted, cv = fit_calibration(
            scored, base, folds, fitted_on=str(graded), head=head, held_out=held_out
        )
    if settings is not None:
        fitted = _fit_judge(grader.rubric, scored, held_out, settings, fitted)
    output.parent.mkdir(parents=True, exist_ok=True)
    save_calibration(fitted, output)
    _print_agreement(cv, title=f"Cross-validated agreement ({folds} folds grouped by card)")
    weights = Table(title="What the calibration learned", show_header=True, header_style="bold")
    weights.add_column("signal")
    weights.add_column("weight", justify="right")
    assert fitted.score_model is not None
    for name, w in zip(fitted.score_model.features, fitted.score_model.weights, strict=True):
        weights.add_row(name, f"{w:+.3f}")
    weights.add_row(
        "share kept by the rubric's coverage", f"{fitted.score_model.coverage_share:.2f}"
    )
    summary = _head_summary(fitted.score_model.head, head, head_tried(scored))
    weights.add_row("similarity head", summary)
    out.print(weights)
    out.print(
        f"wrote {output} (for model {fitted.model}). Use it with "
        f"`examiner grade … --calibration {output}`."
    )


def _judge_to_fit(model: str | None, base_url: str | None, api_key: str | None) -> Any:
    from ..config import judge_settings
    from ..errors import JudgeConfigError

    settings = judge_settings(mode="always", model=model, base_url=base_url, api_key=api_key)
    if settings.problem:
        raise JudgeConfigError(f"--judge needs a judge: {settings.problem}")
    return settings


def _fit_judge(rubric: Any, scored: Any, held_out: Any, settings: Any, fitted: Any) -> Any:
    """The calibration with the judge's weight fitted on the graded answers, and its table.

    `held_out`: the answers scored by calibrations that did not see their card.
    """
    from rich.progress import Progress
    from rich.table import Table

    from ..evaluation import rescore
    from ..evaluation.judge_weight import fit_judge_weight, judge_graded

    def notice(msg: str) -> None:
        err.print(f"[yellow]notice:[/] {escape(msg)}")

    with Progress(console=err, transient=True) as bar:
        task = bar.add_task(f"judging with {settings.model}…", total=None)
        judged = judge_graded(
            rubric,
            rescore(scored, fitted),
            held_out,
            settings,
            notice=notice,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    weight = fit_judge_weight(judged, fitted_on=fitted.fitted_on)
    table = Table(title=f"The judge {settings.model} against the teacher", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("answers judged (quotes in the answer)", f"{weight.answers} of {len(judged)}")
    cv = weight.cross_validation
    table.add_row("MAE, embedding stage alone (held-out cards)", f"{cv['mae_embedding']:.3f}")
    table.add_row("MAE, judge's score alone (held-out cards)", f"{cv['mae_judge']:.3f}")
    table.add_row("MAE, weighted (held-out cards)", f"{cv['mae_blend']:.3f}")
    table.add_row("judge weight (fitted on all)", f"{weight.weight:.2f}")
    out.print(table)
    weights = {**fitted.judge_weights, settings.model: weight}
    return fitted.model_copy(update={"judge_weights": weights})


def _head_summary(learned: Any, tried: bool, enough: bool) -> str:
    from ..evaluation import HEAD_MIN_ANSWERS

    if learned is not None:
        return f"kept: {len(learned.weights)} weights, penalty {learned.l2:g}"
    if not tried:
        return "off (--no-head)"
    if not enough:
        return f"not tried: it needs {HEAD_MIN_ANSWERS} graded answers or more, on 4 cards or more"
    return "not kept: no better on held-out cards"


def _print_agreement(report: Any, title: str) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("Pearson r", f"{report.pearson:.3f}")
    table.add_row("Spearman ρ", f"{report.spearman:.3f}")
    table.add_row("RMSE (0..1)", f"{report.rmse:.3f}")
    if report.scale > 1:
        table.add_row(f"RMSE (0..{report.scale:g})", f"{report.rmse_on_scale:.3f}")
    table.add_row("MAE (0..1)", f"{report.mae:.3f}")
    table.add_row(f"quadratic weighted κ ({report.qwk_bins})", f"{report.qwk:.3f}")
    table.add_row("label accuracy", f"{report.label_accuracy:.3f}")
    out.print(table)


def _print_details(report: Any) -> None:
    from rich.table import Table

    confusion = Table(title="Labels (rows: teacher, columns: examiner)", header_style="bold")
    confusion.add_column("")
    for label in report.labels:
        confusion.add_column(label, justify="right")
    for label, row in zip(report.labels, report.confusion, strict=True):
        confusion.add_row(label, *[str(n) for n in row])
    out.print(confusion)
    cards = Table(title="Per card", header_style="bold")
    for col in ("card", "n", "teacher mean", "examiner mean", "MAE", "r"):
        cards.add_column(col, justify="left" if col == "card" else "right")
    for c in report.per_card:
        cards.add_row(
            escape(c.card),
            str(c.n),
            f"{c.human_mean:.2f}",
            f"{c.machine_mean:.2f}",
            f"{c.mae:.2f}",
            f"{c.pearson:.2f}",
        )
    out.print(cards)
    _print_categories(report)
    worst = Table(title="Largest disagreements", header_style="bold")
    for col in ("student", "card", "teacher", "examiner", "answer"):
        worst.add_column(col, justify="right" if col in ("teacher", "examiner") else "left")
    for w in report.worst:
        answer = w.answer if len(w.answer) <= 80 else w.answer[:77] + "…"
        worst.add_row(
            escape(w.student_id),
            escape(w.card),
            f"{w.human:.2f}",
            f"{w.machine:.2f}",
            escape(" ".join(answer.split())),
        )
    out.print(worst)


def _print_categories(report: Any) -> None:
    """MAE per kind of answer, worst first, when the graded file names the kinds."""
    from rich.table import Table

    if not report.per_category:
        return
    kinds = Table(title="Per kind of answer (the file's category column)", header_style="bold")
    widest = max(len(c.category) for c in report.per_category)
    kinds.add_column("category", no_wrap=True, min_width=min(widest, 40))
    for col in ("n", "teacher mean", "examiner mean", "MAE", "> +0.15", "< −0.15"):
        kinds.add_column(col, justify="right")
    for c in report.per_category:
        kinds.add_row(
            escape(c.category),
            str(c.n),
            f"{c.human_mean:.2f}",
            f"{c.machine_mean:.2f}",
            f"{c.mae:.2f}",
            str(c.over),
            str(c.under),
        )
    out.print(kinds)
