"""Media in and out: downloads of result files."""
