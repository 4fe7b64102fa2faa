"""KMS stand-in (regional, ``kms.<region>.aws.internal``)."""
