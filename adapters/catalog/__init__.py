"""The model catalog as TOML data files."""
