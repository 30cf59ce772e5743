"""aiaudit: a pytest-based compliance audit of self-hosted AI deployments."""

__version__ = "0.1.0"
