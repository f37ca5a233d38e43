"""Exception types a user can cause.

Every error raised for bad input derives from :class:`TwolayerError`, whose message names the
problem and the fix in one line. The CLI prints exactly that line (no traceback unless
``--debug``) and exits with a non-zero code.
"""

from __future__ import annotations

__all__ = ["TwolayerError", "InputError", "DataError", "SingularKernelError", "DivergenceError"]


class TwolayerError(Exception):
    """Base class of errors caused by the user's input or environment."""


class InputError(TwolayerError, ValueError):
    """An array or option has the wrong shape, dtype, range or contents (NaN, zero rows, ...)."""


class DataError(TwolayerError, ValueError):
    """A data file or data source is missing, truncated, corrupt or of an unknown layout."""


class SingularKernelError(TwolayerError, ValueError):
    """A Gram matrix is singular or numerically so (e.g. duplicate or parallel rows).

    Attributes
    ----------
    rows : list of tuple of int
        Pairs of row indices found to be duplicate or parallel (may be empty when the
        singularity is not due to a pair).
    lambda_min : float or None
        The smallest eigenvalue estimate, when known.
    """

    def __init__(self, message: str, rows=(), lambda_min=None):
        super().__init__(message)
        self.rows = list(rows)
        self.lambda_min = lambda_min


class DivergenceError(TwolayerError):
    """Training diverged (the loss blew up or became non-finite): the learning rate is above the
    largest stable one for this kernel; the message gives that rate. ``step`` is the iteration at
    which it was detected (None when refused before the first step)."""

    step: int | None = None
