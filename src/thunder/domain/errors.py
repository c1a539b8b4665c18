"""One error tree for everything a user can get wrong.

Adapters translate library exceptions into these at their boundary; the CLI prints one line per
error and the API maps them to 4xx responses. Messages name the file, row, column or field.
"""


class ThunderError(Exception):
    """Base of every error thunder raises on purpose."""

    code = "thunder_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConfigError(ThunderError):
    code = "invalid_config"


class InvalidArgument(ThunderError):
    """A Python API call given a value of the wrong kind (a number where a path or a DataFrame
    belongs): said at the call, not as a TypeError deep inside."""

    code = "invalid_argument"


class DataError(ThunderError):
    code = "invalid_data"


class MissingColumn(DataError):
    code = "missing_column"


class MalformedRow(DataError):
    code = "malformed_row"


class NonFiniteValue(DataError):
    code = "non_finite_value"


class NotEnoughData(DataError):
    code = "not_enough_data"


class ArtifactError(ThunderError):
    code = "artifact_error"


class ArtifactNotFound(ArtifactError):
    code = "artifact_not_found"


class ArtifactCorrupt(ArtifactError):
    code = "artifact_corrupt"


class NotFitted(ThunderError):
    code = "not_fitted"


class InvalidHistory(ThunderError):
    """A /predict body that cannot be forecast from: names the row and column."""

    code = "invalid_history"


class OutOfOrder(DataError):
    code = "out_of_order"


class NothingToResume(ThunderError):
    code = "nothing_to_resume"


class MissingExtra(ThunderError):
    """An optional feature whose packages are not installed: names the pip extra."""

    code = "missing_extra"


class ClusterError(ThunderError):
    """A distributed run cannot start, or another of its processes stopped."""

    code = "cluster_error"


class PeerStopped(ClusterError):
    """Rank 0 of a distributed run stopped with an error of its own, which it reports; the other
    ranks exit quietly."""
