"""What the model client raises: the server is unreachable, or it answered with an error."""

from __future__ import annotations


class ServerUnreachable(Exception):
    """The model server cannot be reached (or kept dropping the connection). Exit code 3."""

    def __init__(self, url: str, reason: str, *, waited: float | None = None) -> None:
        self.url, self.reason, self.waited = url, reason, waited
        self.before_first_request = False  # set by the loop when the readiness wait failed: nothing was sent
        super().__init__(str(self))

    def __str__(self) -> str:
        waited = f" (waited {self.waited:.1f} s)" if self.waited is not None else ""
        return f"model server {self.url} is unreachable: {self.reason}{waited}"


class ModelError(Exception):
    """The server answered, but with an error retrying cannot fix (or that persisted through retries)."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        self.url, self.status = url, status
        super().__init__(message)
