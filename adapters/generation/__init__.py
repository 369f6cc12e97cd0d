"""The GenerationPort's adapters: KieGeneration (Kie.ai's jobs API, on the client in
``adapters/kie/``) and, offline, StubGeneration with its StubUploader (UploaderPort)."""
