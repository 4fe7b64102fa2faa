"""S3 stand-in (regional, ``s3.<region>.aws.internal``)."""
