"""The embedded local engine: moto in server mode, our handlers in-process, and the CLI."""
