"""Simplification: small named rewrite rules plus one strategy.

Every rule is a pure function ``Expr -> Expr`` that returns its input unchanged
when it does not apply.  ``RULES`` lists the rules tried on each node type, in
order; :func:`simplify` applies them bottom-up until nothing changes.

``PREPARE`` holds the rewrites applied to a function *before* it is
differentiated: standard identities (log softmax(z) = z - logsumexp(z),
log sigmoid(z) = -softplus(-z)) whose derivatives come out in textbook form
and evaluate without overflow.

The rules live in modules by topic (``core`` holds the strategy and the shared helpers); this
module builds the two tables from them.
"""

from __future__ import annotations

from .. import expr as E

# every rule and shared helper stays importable as matcalc.simplify.<name>
from .core import (
    Rule, MAX_PASSES, MAX_POLY_TERMS, split_coeff, with_coeff, parts, flip, is_symmetric, rewrite,
    SimplifyBudgetError,
)
from .transpose import (
    transpose_symmetric, transpose_commutation, count_transposes, transpose_push, transpose_out_of_sum,
    inverse_of_transpose, inverse_of_scaled,
)
from .kron import (
    kron_mixed_product, kron_commutation, commutation_inverse, diagonal_selection, kron_of_identities,
    kron_of_vectors, factor_common_kron, trace_of_kron, sum_of_kron,
)
from .products import (
    collect_scalar_powers, scalar_chain_factor, ones_product, diag_ones, merge_powers, matpow_canonical,
    inverse_cancel, negate_difference,
)
from .elementwise import (
    sign_times_self, relu_times_step, hadamard_pull_scalars, hadamard_powers, power_of_sqrt, power_of_product,
    sigmoid_of_negative, sigmoid_complement, exp_log,
)
from .polynomial import (
    expand_elementwise,
)
from .sums import (
    collect_like_terms, factor_common_scalar, factor_common_chain, sort_terms,
)
from .reductions import (
    sum_of_hadamard, trace_of_scaled, diag_of_ones, diag_of_outer, diag_of_scaled, diagonal_of_ones,
    logdet_of_power, det_of_product,
)
from .stable import (
    log_of_softmax, log_of_sigmoid, log_of_one_plus_exp, sigmoid_of_exp, log_of_det, log_of_exp_sum,
)

__all__ = [
    'Rule', 'MAX_PASSES', 'MAX_POLY_TERMS', 'split_coeff', 'with_coeff', 'parts', 'flip', 'is_symmetric',
    'rewrite', 'SimplifyBudgetError', 'transpose_symmetric', 'transpose_commutation', 'count_transposes',
    'transpose_push', 'transpose_out_of_sum', 'inverse_of_transpose', 'inverse_of_scaled',
    'kron_mixed_product', 'kron_commutation', 'commutation_inverse', 'diagonal_selection',
    'kron_of_identities', 'kron_of_vectors', 'factor_common_kron', 'trace_of_kron', 'sum_of_kron',
    'collect_scalar_powers', 'scalar_chain_factor', 'ones_product', 'diag_ones', 'merge_powers',
    'matpow_canonical', 'inverse_cancel', 'negate_difference', 'sign_times_self', 'relu_times_step',
    'hadamard_pull_scalars', 'hadamard_powers', 'power_of_sqrt', 'power_of_product', 'sigmoid_of_negative',
    'sigmoid_complement', 'exp_log', 'expand_elementwise', 'collect_like_terms', 'factor_common_scalar',
    'factor_common_chain', 'sort_terms', 'sum_of_hadamard', 'trace_of_scaled', 'diag_of_ones',
    'diag_of_outer', 'diag_of_scaled', 'diagonal_of_ones', 'logdet_of_power', 'det_of_product',
    'log_of_softmax', 'log_of_sigmoid', 'log_of_one_plus_exp', 'sigmoid_of_exp', 'log_of_det',
    'log_of_exp_sum', 'RULES', 'PREPARE', 'simplify', 'prepare',
]


RULES: dict[type, list[Rule]] = {
    E.Transpose: [transpose_symmetric, transpose_commutation, transpose_push],
    E.Inverse: [inverse_of_transpose, inverse_of_scaled],
    E.MatMul: [collect_scalar_powers, sign_times_self, ones_product, diag_ones, inverse_cancel, merge_powers,
               kron_mixed_product, kron_commutation, commutation_inverse, diagonal_selection, scalar_chain_factor, negate_difference],
    E.MatPow: [matpow_canonical],
    E.Hadamard: [hadamard_pull_scalars, hadamard_powers, sign_times_self, relu_times_step, sigmoid_of_exp,
                 expand_elementwise],
    E.Add: [collect_like_terms, sigmoid_complement, expand_elementwise, factor_common_chain, factor_common_scalar,
            factor_common_kron, transpose_out_of_sum, sort_terms],
    E.Kron: [kron_of_identities, kron_of_vectors],
    E.Sum: [sum_of_hadamard],
    E.Trace: [trace_of_scaled],
    E.Diag: [diag_of_ones, diag_of_scaled],
    E.DiagOf: [diag_of_outer, diag_of_scaled, diagonal_of_ones],
    E.Power: [power_of_sqrt, power_of_product, sigmoid_of_exp],
    E.Apply: [exp_log],
}

PREPARE: dict[type, list[Rule]] = {
    E.Apply: [log_of_softmax, log_of_sigmoid, log_of_one_plus_exp, log_of_det, log_of_exp_sum, exp_log],
    E.Power: [sigmoid_of_exp],
    E.Hadamard: [sigmoid_of_exp],
    E.Trace: [trace_of_kron],
    E.Sum: [sum_of_kron],
    E.Det: [det_of_product],
    E.LogDet: [logdet_of_power],
}


def simplify(e: E.Expr) -> E.Expr:
    """The compact form of ``e``."""
    return rewrite(e, RULES)


def prepare(e: E.Expr) -> E.Expr:
    """``e`` rewritten into forms whose derivatives are compact and stable."""
    return rewrite(e, PREPARE)
