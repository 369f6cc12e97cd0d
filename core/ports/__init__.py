"""Ports: what the core needs from the outside world, named for the role."""
