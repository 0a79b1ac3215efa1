"""The one way a check says it cannot run from here."""


class Skip(Exception):
    """This check cannot run from here (no credentials, no VPC DNS); the message says why."""
