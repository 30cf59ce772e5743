"""Risk 2: skill and plugin supply chain. Functions here return facts; tests assert."""
