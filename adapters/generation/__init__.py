"""Stub mode (offline): StubGeneration (GenerationPort), StubUploader (UploaderPort)."""
