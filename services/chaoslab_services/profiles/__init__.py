"""Named resilience profiles (YAML files beside this one); see services/README.md."""
