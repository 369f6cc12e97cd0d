"""The domain, its ports and the use cases: no framework, driver or I/O."""
