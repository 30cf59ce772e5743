"""Secret detection for conversation history, logs, WAL files and configs (STO-03/04)."""
