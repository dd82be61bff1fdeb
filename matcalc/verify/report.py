"""What a numerical check found: its trials, its report, and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import MatcalcError

MAX_DRAWS = 40
MAX_ENTRIES = 20_000_000  # entries of one evaluated value (160 MB in float64) at a trial's sizes
VACUOUS_REDRAWS = 8  # draws of a trial whose both sides are 0 before it is given up


@dataclass
class Trial:
    dims: dict
    max_rel_error: float
    checks: list  # (method, error)
    point: dict = field(repr=False, default_factory=dict)


@dataclass
class Report:
    """What was checked, where, and how well it agreed."""

    function: str
    wrt: str
    layout: str
    kind: str
    tolerance: float
    trials: list
    explicit: str
    ok: bool
    unreached: list = field(default_factory=list)  # kink regions no draw reached (text)
    vacuous: int = 0  # trials where both sides were 0: drawn again, not counted
    reached: list = field(default_factory=list)  # kink regions the trials reached (text)
    refined: int = 0  # checks judged by Ridders' extrapolation (one central difference disagreed)
    redrawn: int = 0  # points drawn again at a smaller scale (finite differences could not judge them)
    unsteady: int = 0  # trials judged though finite differences could not (the redraws ran out)

    @property
    def complete(self) -> bool:
        """Every kink region was reached and at least one trial counted."""
        return not self.unreached and bool(self.trials)

    @property
    def max_rel_error(self) -> float:
        return max((t.max_rel_error for t in self.trials), default=0.0)

    @property
    def method(self) -> str:
        """Which differences were used: one central difference a check, Ridders' extrapolation where it disagreed."""
        from .steps import FIRST, LEVELS, SHRINK, STEP

        out = f"central differences (step {STEP:g} relative) along random directions and entry by entry, float64"
        if self.refined:
            out += (f"; where they disagreed, Ridders' extrapolation over steps {FIRST:g} to "
                    f"{FIRST / SHRINK ** (LEVELS - 1):.1g} ({self.refined} check(s))")
        if self.redrawn:
            out += (f"; {self.redrawn} point(s) drawn again at a smaller scale, where a check disagreed and "
                    "neither one step nor Ridders' extrapolation was steady, or the point was badly conditioned")
        if self.unsteady:
            out += f"; {self.unsteady} trial(s) judged at such a point (the redraws ran out)"
        return out

    def __str__(self) -> str:
        head = ("verified" if self.complete else "agrees where tested, but not verified everywhere") \
            if self.ok else "FAILED"
        lines = [
            f"{head}: {self.kind} of {self.function} wrt {self.wrt} ({self.layout} layout)",
            f"  method: {self.method}; tolerance {self.tolerance:g} on ||analytic - numeric|| / max(||numeric||, tiny)",
        ]
        for t in self.trials:
            dims = ", ".join(f"{k}={v}" for k, v in sorted(t.dims.items())) or "no dimensions"
            checks = ", ".join(f"{m}: {err:.1e}" for m, err in t.checks)
            lines.append(f"  shapes {dims}: {checks}")
        lines.append(f"  max relative error {self.max_rel_error:.2e}")
        if self.vacuous:
            lines.append(f"  {self.vacuous} vacuous trial(s) (both sides 0) drawn again and not counted")
        if not self.trials:
            lines.append("  no trial counted: the derivative and the finite differences were 0 at every point drawn")
        if self.reached:
            lines.append(f"  both sides of each kink: points where {'; '.join(self.reached)}")
        for r in self.unreached:
            lines.append(f"  NOT TESTED: no point where {r} was found")
        lines.append(f"  symbolic second opinion: {self.explicit}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "method": self.method,
            "tolerance": self.tolerance,
            "max_rel_error": self.max_rel_error,
            "trials": [{"dims": t.dims, "max_rel_error": t.max_rel_error, "checks": t.checks} for t in self.trials],
            "explicit": self.explicit,
            "unreached": list(self.unreached),
            "vacuous": self.vacuous,
            "reached": list(self.reached),
        }


class VerificationError(AssertionError):
    """The derivative disagrees with finite differences; carries a counterexample."""

    def __init__(self, message: str, report: Report, counterexample: dict):
        super().__init__(message)
        self.report = report
        self.counterexample = counterexample


class DomainError(MatcalcError):
    pass


# -- shapes and points ----------------------------------------------------------------
