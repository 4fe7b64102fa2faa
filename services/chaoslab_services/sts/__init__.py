"""STS stand-in (global: ``sts.aws.internal``, a process of its own in us-east-1)."""
