"""The national document exchange axis (Trục liên thông văn bản quốc gia), as the official VXP client speaks it.

`protocol` holds the pure header signing rules (shared with the local simulator), `client` the HTTP adapter and
`errors` what callers branch on: transient (retry) or business (permanent) or authentication (configuration).
Some provinces put their own gateway (LGSP) with another REST skin in front; that would be another adapter with the
same methods.
"""

from chalicelib.adapters.axis.errors import (
    AxisAnswerTooLarge,
    AxisAuthError,
    AxisBusinessError,
    AxisError,
    AxisPackageTooLarge,
    AxisTransientError,
)

__all__ = ["AxisAnswerTooLarge", "AxisAuthError", "AxisBusinessError", "AxisError", "AxisPackageTooLarge",
           "AxisTransientError"]
