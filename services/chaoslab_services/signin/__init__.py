"""Console sign-in stand-in (global: ``signin.aws.internal``, in us-east-1)."""
