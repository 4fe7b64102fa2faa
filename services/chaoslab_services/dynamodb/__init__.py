"""DynamoDB stand-in (regional, ``dynamodb.<region>.aws.internal``)."""
