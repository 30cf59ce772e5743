"""Risk 1: exposed LLM API endpoints. Functions here return facts; tests assert."""
