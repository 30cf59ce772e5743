"""Risk 4: conversation history leakage. Functions here return facts; tests assert."""
