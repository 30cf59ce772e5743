"""Risk 3: prompt injection. Functions here return facts; tests assert."""
