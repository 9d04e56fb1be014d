"""Domain errors. Each family maps to one HTTP status in the entrypoint, in one place."""


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class NotFound(DomainError):
    """Something does not exist, or is not visible to the caller (404)."""


class JobNotFound(NotFound):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id


class NotAssigned(NotFound):
    """The worker does not hold the job (any more): its signal to stop."""

    def __init__(self, job_id: int, reason: str = "is not assigned to this worker") -> None:
        super().__init__(f"job {job_id} {reason}")
        self.job_id = job_id


class FileNotFound(NotFound):
    def __init__(self, file_id: str) -> None:
        super().__init__(f"file {file_id!r} not found")
        self.file_id = file_id


class Conflict(DomainError):
    """The request is valid but clashes with the current state (409)."""


class IllegalTransition(Conflict):
    pass


class ConcurrentUpdate(Conflict):
    """Someone else changed the job between our read and our write; the use case retries."""


class NotAuthenticated(DomainError):
    """No, or no valid, credentials (401)."""


class Forbidden(DomainError):
    """Authenticated, but not allowed (403)."""


class PathNotAllowed(Forbidden):
    def __init__(self, path: str, reason: str = "is outside the allowed folders") -> None:
        super().__init__(f"path {path!r} {reason}")
        self.path = path


class TooLarge(DomainError):
    """The payload exceeds a configured limit (413)."""


class InvalidInput(DomainError):
    """Well-formed request, unacceptable value (422)."""


class UnsupportedOperation(DomainError):
    """The operation does not exist with the configured backend (400)."""


class Rejected(DomainError):
    """The other side refuses this for good (e.g. the user API rejects a status value):
    retrying cannot help, so the message is dropped and logged."""


class Unavailable(DomainError):
    """A dependency (database, user API, S3) cannot be reached right now (503)."""


class StoreUnavailable(Unavailable):
    """The store's database cannot be reached or refuses us (503). The store has logged
    the outage once; callers need not log each refused call."""


class LostLeadership(Unavailable):
    """This scheduler no longer holds the leader lease: it must stop acting."""
