"""CloudWatch stand-in (regional, ``cloudwatch.<region>.aws.internal``)."""
