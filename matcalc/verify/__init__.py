"""Numerical verification of derivatives (``docs/conventions.md``, "Numerical checks").

A derivative is compiled to NumPy and compared, in float64, with central
finite differences of the compiled function (one step of 1e-5 relative first;
where it disagrees, Ridders' extrapolation over several steps, and a point
where no step is steady or that is badly conditioned is drawn again at a
smaller scale: ``steps.py``):

* along several random directions, at several random shapes (1 to 8 per
  dimension, never only square; one draw includes 1s),
* entry by entry (the full vec-Jacobian) when the shapes are small,
* and, as an independent second opinion, against SymPy's scalar ``diff`` of the
  explicit entries at small explicit shapes.

Points respect the domain: positive entries under log and sqrt, well
conditioned matrices under det, logdet and inv, symmetric or positive
definite matrices where assumed, one-hot columns where assumed, and points
away from the kinks of abs, relu, step, sign and the 1-norm.

Both sides of every kink are tested: for each argument of relu, step, abs,
sign or norm1 (so every hinge max(0, .)), the trials include a point where it
is positive and one where it is negative, and, for an argument with several
entries, one where it has entries of both signs (a batch hinge with active and
inactive samples).  Points are drawn at several scales.  A region that no
draw reaches is named in the report (``unreached``).

A trial where both sides are 0 (the derivative and the finite differences)
proves nothing: it is drawn again and never counted (``vacuous``); it only
shows that the result vanishes in a kink region where the function is flat.

The error is ``||analytic - numeric|| / max(||numeric||, tiny)`` with
``tiny = 1e-4 (1 + |f|)``, compared with ``tol`` (1e-5 by default).
"""

from .compiled import verify_hvp, verify_value_and_grad
from .derivative import analytic_vec_jacobian, check_entries, verify_derivative
from .points import (
                     SCALES,
                     cover_kinks,
                     dimension_symbols,
                     draw_dims,
                     draw_point,
                     kink_arguments,
                     kink_regions,
                     regions_at,
                     sign_pattern,
)
from .report import DomainError, Report, Trial, VerificationError

__all__ = ["DomainError", "Report", "SCALES", "Trial", "VerificationError", "analytic_vec_jacobian", "check_entries",
           "cover_kinks", "dimension_symbols", "draw_dims", "draw_point", "kink_arguments", "kink_regions",
           "regions_at", "sign_pattern", "verify_derivative", "verify_hvp", "verify_value_and_grad"]
