"""deployctl: dependency-ordered, health-checked, reversible Kubernetes deploys."""

__version__ = "0.1.0"
