"""Lambda stand-in (regional, ``lambda.<region>.aws.internal``).

The package is ``lambda_`` because ``lambda`` is a Python keyword; the service, the proto
package (``chaoslab.lambda.v1``) and ``--service lambda`` keep the plain name.
"""
