"""GenerationPort adapters: the Kie.ai client and the offline stub."""
