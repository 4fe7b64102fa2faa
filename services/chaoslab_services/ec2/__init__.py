"""EC2 stand-in: RunInstances/DescribeInstances, instance metadata, and DWFM host leases."""
