"""The one error type the datasets package raises."""


class DatasetError(RuntimeError):
    """A dataset could not be fetched, verified or prepared; the message says why and what to do."""
