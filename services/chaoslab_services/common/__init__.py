"""Building blocks shared by every service: config, DNS, resilience, capacity, metrics."""
