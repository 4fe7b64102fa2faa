"""IAM stand-in (global: ``iam.aws.internal``, in us-east-1); STS is ``chaoslab_services.sts``."""
