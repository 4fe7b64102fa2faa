"""IAM + STS stand-in (global: ``iam.aws.internal`` and ``sts.aws.internal``, in us-east-1)."""
