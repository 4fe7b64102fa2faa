"""AWS-like service tiers as gRPC stand-ins for the DNS Chaos Lab.

Every service resolves its dependencies by their ``*.aws.internal`` names through the lab's
DNS server, so a DNS fault injected in CoreDNS propagates the way it did in us-east-1:
DynamoDB -> IAM -> Lambda/CloudWatch. See services/README.md.
"""

SERVICES = ("dynamodb", "kms", "iam", "sts", "signin", "s3", "lambda", "cloudwatch", "ec2")
