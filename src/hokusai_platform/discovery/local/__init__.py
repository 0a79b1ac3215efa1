"""A local stand-in for Cloud Map: its instance registry, its DNS answers and a control API.

`hokusai discovery serve` and `hokusai up` run it; the gateway finds MLflow through it exactly
as through Cloud Map's DNS in AWS.
"""
