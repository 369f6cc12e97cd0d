"""Stub mode (offline): StubGeneration (GenerationPort), StubUploader (MediaUploader)."""
